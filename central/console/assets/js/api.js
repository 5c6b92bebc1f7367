// WebSocket client for the admin API (docs/ADMIN_API.md): request/response
// by id, server pushes as "push" events, reconnect with backoff and
// auth.resume from the token kept in sessionStorage.

export class ApiError extends Error {
  constructor(e) {
    super((e && e.message) || 'error');
    this.code = (e && e.code) || 'internal';
    this.field = (e && e.field) || '';
    this.text = (e && e.text) || ''; // the offending part, for content_guard
    this.retryAfter = (e && e.retry_after_sec) || 0;
  }
}

const TOKEN_KEY = 'atmguard.token';

export class Api extends EventTarget {
  constructor(url) {
    super();
    this.url = url || defaultURL();
    this.ws = null;
    this.seq = 0;
    this.pending = new Map();
    this.open = null; // promise of the current connection
    this.backoff = 500;
    this.authed = false;
    this.subs = new Set(); // "stream|alert_id" to restore after reconnect
    this.refs = new Map(); // "stream|alert_id" -> views using it
    this.closedByUs = false;
  }

  get token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
  set token(v) { if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY); }

  connect() {
    if (this.open) return this.open;
    this.open = new Promise((resolve, reject) => {
      let ws;
      try { ws = new WebSocket(this.url); } catch (e) { this.open = null; reject(e); return; }
      this.ws = ws;
      ws.onopen = () => { this.backoff = 500; this.dispatch('connection', { up: true }); resolve(); };
      ws.onmessage = (ev) => this.onMessage(ev.data);
      ws.onerror = () => {};
      ws.onclose = () => {
        const wasOpen = this.ws === ws;
        this.ws = null;
        this.open = null;
        this.authed = false;
        for (const [, p] of this.pending) p.reject(new ApiError({ code: 'unavailable', message: 'connection closed' }));
        this.pending.clear();
        reject(new ApiError({ code: 'unavailable', message: 'connection failed' }));
        if (wasOpen) this.dispatch('connection', { up: false });
        if (!this.closedByUs) this.scheduleReconnect();
      };
    });
    return this.open;
  }

  scheduleReconnect() {
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 15000);
    setTimeout(async () => {
      try {
        await this.connect();
        if (this.token) {
          const r = await this.call('auth.resume', { token: this.token });
          this.authed = true;
          const streams = new Set();
          for (const key of this.subs) {
            const [stream, alertID] = key.split('|');
            const p = { stream };
            if (alertID) p.alert_id = alertID;
            streams.add(stream);
            this.call('streams.subscribe', p).catch(() => {});
          }
          this.dispatch('resumed', r);
          // Pushes were missed while disconnected: views re-read what they
          // show, exactly as after a server-side resync.
          for (const stream of streams) this.dispatch('push', { stream, event: { kind: 'resync' } });
        }
      } catch (e) {
        if (e instanceof ApiError && e.code === 'unauthorized') {
          this.token = '';
          this.dispatch('push', { stream: 'session', event: { state: 'expired' } });
        }
      }
    }, wait);
  }

  onMessage(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg && typeof msg.id === 'string' && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new ApiError(msg.error));
      else p.resolve(msg.result === undefined ? {} : msg.result);
      return;
    }
    if (msg && msg.stream) {
      if (msg.stream === 'session' && msg.event && msg.event.state) {
        this.token = '';
        this.authed = false;
        this.subs.clear();
      }
      this.dispatch('push', { stream: msg.stream, event: msg.event || {} });
    }
  }

  dispatch(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  // call sends one request and resolves with its result or rejects with an
  // ApiError. An "unauthorized" answer also raises a session push so the
  // page returns to the login form wherever it is.
  async call(method, params, timeoutMs = 60000) {
    await this.connect();
    const id = String(++this.seq);
    const frame = JSON.stringify({ id, method, params: params || {} });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new ApiError({ code: 'unavailable', message: 'timeout' }));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => {
          clearTimeout(timer);
          if (e.code === 'unauthorized' && method !== 'auth.login' && method !== 'auth.resume' && this.authed) {
            this.token = '';
            this.authed = false;
            this.dispatch('push', { stream: 'session', event: { state: 'expired' } });
          }
          reject(e);
        },
      });
      try { this.ws.send(frame); } catch (e) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new ApiError({ code: 'unavailable', message: String(e) }));
      }
    });
  }

  async login(name, password) {
    const r = await this.call('auth.login', { name, password });
    this.token = r.token;
    this.authed = true;
    return r;
  }

  async resume() {
    if (!this.token) return null;
    try {
      const r = await this.call('auth.resume', { token: this.token });
      this.authed = true;
      return r;
    } catch (e) {
      if (e.code === 'unauthorized') { this.token = ''; return null; }
      throw e;
    }
  }

  async logout() {
    try { await this.call('auth.logout', {}); } finally {
      this.token = '';
      this.authed = false;
      this.subs.clear();
      this.refs.clear();
    }
  }

  // subscribe / unsubscribe are reference counted per stream and alert id:
  // views come and go, and an unsubscribe from the view being closed must not
  // cancel the subscription of the view being opened. The last unsubscribe is
  // sent a moment later, so a view switch does not race subscribe against
  // unsubscribe on the server.
  async subscribe(stream, alertID) {
    const key = stream + '|' + (alertID || '');
    const n = (this.refs.get(key) || 0) + 1;
    this.refs.set(key, n);
    if (n > 1 && this.subs.has(key)) return;
    const p = { stream };
    if (alertID) p.alert_id = alertID;
    await this.call('streams.subscribe', p);
    this.subs.add(key);
  }

  unsubscribe(stream, alertID) {
    const key = stream + '|' + (alertID || '');
    const n = Math.max(0, (this.refs.get(key) || 0) - 1);
    this.refs.set(key, n);
    if (n > 0) return;
    setTimeout(() => {
      if ((this.refs.get(key) || 0) > 0 || !this.subs.has(key)) return;
      this.subs.delete(key);
      const p = { stream };
      if (alertID) p.alert_id = alertID;
      if (this.authed) this.call('streams.unsubscribe', p).catch(() => {});
    }, 1500);
  }
}

function defaultURL() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}
