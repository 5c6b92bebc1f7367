// Console entry point: connection, session, navigation and the router.
import { Api } from './api.js';
import { h, clear } from './dom.js';
import { t, getLang, setLang } from './i18n.js';
import { can } from './ui.js';
import { loginView, passwordView } from './views/login.js';
import { fleetView, deviceView } from './views/fleet.js';
import { composeView } from './views/compose.js';
import { alertsView, alertView, approvalsView } from './views/alerts.js';
import { campaignsView } from './views/campaigns.js';
import { auditView } from './views/audit.js';
import { usersView } from './views/users.js';
import { guardView } from './views/guard.js';

const routes = [
  { path: 'fleet', view: fleetView, nav: 'nav.fleet', allow: () => true },
  { path: 'device', view: deviceView, allow: () => true },
  { path: 'compose', view: composeView, nav: 'nav.compose', allow: can.compose },
  { path: 'alerts', view: alertsView, nav: 'nav.alerts', allow: () => true },
  { path: 'alert', view: alertView, allow: () => true },
  { path: 'approvals', view: approvalsView, nav: 'nav.approvals', allow: () => true },
  { path: 'campaigns', view: campaignsView, nav: 'nav.campaigns', allow: () => true },
  { path: 'audit', view: auditView, nav: 'nav.audit', allow: can.audit },
  { path: 'guard', view: guardView, nav: 'nav.guard', allow: guardView.allow },
  { path: 'users', view: usersView, nav: 'nav.users', allow: can.users },
];

class App {
  constructor() {
    this.api = new Api();
    this.user = null;
    this.current = null; // {dispose}
    this.main = document.getElementById('main');
    this.nav = document.getElementById('nav');
    this.banner = document.getElementById('banner');
    this.loginNote = '';

    const sel = document.getElementById('lang-select');
    sel.value = getLang();
    sel.addEventListener('change', () => { setLang(sel.value); this.chrome(); this.route(); });
    document.getElementById('logout').addEventListener('click', () => this.logout());
    window.addEventListener('hashchange', () => this.route());

    this.api.addEventListener('push', (ev) => {
      const { stream, event } = ev.detail;
      if (stream === 'session' && event.state) {
        this.user = null;
        const notes = { expired: 'login.expired', logged_out: 'login.loggedout', revoked: 'login.revoked', shutdown: 'login.shutdown' };
        this.loginNote = t(notes[event.state] || 'login.expired');
        this.chrome();
        this.route();
      }
    });
    this.api.addEventListener('connection', (ev) => {
      this.banner.textContent = ev.detail.up ? '' : t('conn.down');
      this.banner.className = ev.detail.up ? 'banner' : 'banner banner-warn';
    });
    // After a reconnect the open view stays as it is (a half-typed alert is
    // not lost); it re-reads its data on the resync push the API sends.
    this.api.addEventListener('resumed', (ev) => {
      const had = this.user;
      this.setUser(ev.detail.user);
      this.banner.textContent = t('conn.up');
      clearTimeout(this.bannerTimer);
      this.bannerTimer = setTimeout(() => { if (this.banner.textContent === t('conn.up')) this.banner.textContent = ''; }, 8000);
      if (!had || had.role !== ev.detail.user.role) this.route();
    });
  }

  async start() {
    setLang(getLang());
    this.chrome();
    try {
      const r = await this.api.resume();
      if (r) this.setUser(r.user);
    } catch { /* not reachable yet: the login form says so when used */ }
    this.route();
  }

  setUser(u) {
    this.user = u || null;
    this.chrome();
  }

  // chrome renders the parts outside <main>: navigation, user, language.
  chrome() {
    document.title = t('app.title');
    document.getElementById('brand').textContent = t('app.title');
    document.getElementById('lang-label').textContent = t('lang');
    document.querySelector('.skip').textContent = t('skip');
    const out = document.getElementById('logout');
    out.textContent = t('logout');
    const who = document.getElementById('whoami');
    const u = this.user;
    const ready = u && !u.must_change_password;
    out.hidden = !u;
    who.textContent = u ? `${u.display_name || u.name} (${t('role.' + u.role)})` : '';
    this.nav.hidden = !ready;
    clear(this.nav);
    if (!ready) return;
    const here = (location.hash.replace(/^#\/?/, '').split('/')[0]) || 'fleet';
    const ul = h('ul', null, routes.filter((r) => r.nav && r.allow(u.role)).map((r) =>
      h('li', null, h('a', { href: '#/' + r.path, 'aria-current': r.path === here ? 'page' : false, dataset: { nav: r.path } }, t(r.nav)))));
    this.nav.appendChild(ul);
  }

  route() {
    if (this.current && this.current.dispose) this.current.dispose();
    this.current = null;
    clear(this.main);
    const ctx = this.ctx();
    let v;
    if (!this.user) {
      v = loginView(ctx, this.loginNote);
    } else if (this.user.must_change_password) {
      v = passwordView(ctx, true);
    } else {
      const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
      let r = routes.find((x) => x.path === parts[0]);
      if (!r || !r.allow(this.user.role)) r = routes[0];
      v = r.view(ctx, parts.slice(1));
      this.chrome();
    }
    this.current = v;
    this.main.appendChild(v.el);
    if (v.focus) v.focus();
  }

  ctx() {
    return {
      api: this.api,
      user: this.user,
      go: (hash) => { if (location.hash === hash) this.route(); else location.hash = hash; },
      loggedIn: (user) => { this.loginNote = ''; this.setUser(user); this.route(); },
      passwordChanged: () => { this.user = { ...this.user, must_change_password: false }; this.chrome(); this.route(); },
    };
  }

  async logout() {
    try { await this.api.logout(); } catch { /* already gone */ }
    this.user = null;
    this.loginNote = t('login.loggedout');
    this.chrome();
    this.route();
  }
}

const app = new App();
app.start();
