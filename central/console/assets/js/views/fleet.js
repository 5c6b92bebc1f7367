import { h, clear, debounce, fmtTime } from '../dom.js';
import { t, getLang, prefName, PREFS } from '../i18n.js';
import { Fields, Message, pager, table, dl, can, fmtBytes } from '../ui.js';

const PAGE = 50;

function stateOf(d) {
  return d.online ? 'online' : 'offline';
}

export function fleetView(ctx) {
  const msg = new Message();
  const cards = h('div', { class: 'cards', 'aria-live': 'polite' });
  const groupsBox = h('section', { class: 'panel', 'aria-labelledby': 'groups-title' });
  const listBox = h('div');
  const st = { pref: '', branch: '', query: '', state: '', offset: 0 };

  const search = h('input', { type: 'search', id: 'device-search', placeholder: t('fleet.search') });
  const stateSel = h('select', { id: 'device-state' },
    h('option', { value: '' }, t('common.all')),
    h('option', { value: 'online' }, t('fleet.online')),
    h('option', { value: 'offline' }, t('fleet.offline')));
  const prefSel = h('select', { id: 'device-pref' }, h('option', { value: '' }, t('common.all')),
    PREFS.map((p) => h('option', { value: p.code }, prefName(p.code))));

  async function loadSummary() {
    try {
      const top = await ctx.api.call('fleet.summary', st.pref ? { pref: st.pref } : {});
      clear(cards,
        card(t('fleet.total'), top.total, 'total'),
        card(t('fleet.online'), top.online, 'online'),
        card(t('fleet.offline'), top.offline, 'offline'));
      const groups = (st.pref ? top.by_branch : top.by_pref) || [];
      const title = st.pref ? t('fleet.byBranch', { pref: prefName(st.pref) }) : t('fleet.byPref');
      clear(groupsBox,
        h('h2', { id: 'groups-title' }, title),
        st.pref ? h('button', { type: 'button', class: 'link', onclick: () => { st.pref = ''; st.branch = ''; prefSel.value = ''; reload(); } }, t('fleet.clearPref')) : null,
        table(null, [st.pref ? t('fleet.branch') : t('fleet.pref'), { num: t('fleet.total') }, { num: t('fleet.online') }, { num: t('fleet.offline') }],
          groups.map((g) => h('tr', null,
            h('th', { scope: 'row' }, h('button', {
              type: 'button', class: 'link', dataset: { group: g.key },
              onclick: () => {
                if (st.pref) { st.branch = g.key; } else { st.pref = g.key; prefSel.value = g.key; }
                st.offset = 0; reload();
              },
            }, st.pref ? g.key : prefName(g.key))),
            h('td', { class: 'num' }, g.total), h('td', { class: 'num' }, g.online),
            h('td', { class: 'num' + (g.offline ? ' warn' : '') }, g.offline)))));
    } catch (e) {
      msg.apiError(e);
    }
  }

  async function loadList() {
    const p = { offset: st.offset, limit: PAGE };
    if (st.query) p.search = st.query;
    if (st.pref) p.pref = st.pref;
    if (st.branch) p.branch = st.branch;
    if (st.state) p.online = st.state === 'online';
    try {
      const r = await ctx.api.call('devices.list', p);
      const devs = r.devices || [];
      clear(listBox,
        table(null, [t('fleet.id'), t('fleet.branch'), t('fleet.pref'), t('fleet.state'), t('fleet.lastSeen'), t('fleet.version'), t('fleet.screen')],
          devs.map((d) => h('tr', { dataset: { device: d.id } },
            h('th', { scope: 'row' }, h('a', { href: '#/device/' + encodeURIComponent(d.id) }, d.id)),
            h('td', null, d.branch || '—'), h('td', null, prefName(d.pref)),
            h('td', null, h('span', { class: 'dot dot-' + stateOf(d) }, t('fleet.' + stateOf(d)))),
            h('td', null, fmtTime(d.last_seen, getLang())), h('td', null, d.agent_version || '—'), h('td', null, d.screen || '—')))),
        devs.length ? null : h('p', null, t('common.none')),
        pager(st.offset, PAGE, r.total || 0, (o) => { st.offset = o; loadList(); }));
    } catch (e) {
      msg.apiError(e);
    }
  }

  function reload() { loadSummary(); loadList(); }

  const onSearch = debounce(() => { st.query = search.value.trim(); st.offset = 0; loadList(); }, 300);
  search.addEventListener('input', onSearch);
  stateSel.addEventListener('change', () => { st.state = stateSel.value; st.offset = 0; loadList(); });
  prefSel.addEventListener('change', () => { st.pref = prefSel.value; st.branch = ''; st.offset = 0; reload(); });

  // Fleet pushes say one device changed; refresh at most once a second.
  let timer = null;
  const onPush = (ev) => {
    const { stream, event } = ev.detail;
    if (stream !== 'fleet' || timer) return;
    timer = setTimeout(() => { timer = null; reload(); }, event && event.kind === 'resync' ? 0 : 1000);
  };
  ctx.api.addEventListener('push', onPush);
  ctx.api.subscribe('fleet').catch((e) => msg.apiError(e));
  reload();

  const enroll = can.command(ctx.user.role) ? enrollPanel(ctx) : null;
  const el = h('section', { class: 'view', 'aria-labelledby': 'fleet-title' },
    h('h1', { id: 'fleet-title' }, t('fleet.title')),
    msg.el, cards, groupsBox,
    h('section', { class: 'panel', 'aria-labelledby': 'devices-title' },
      h('h2', { id: 'devices-title' }, t('fleet.devices')),
      h('div', { class: 'filters' },
        h('label', null, t('common.search'), search),
        h('label', null, t('fleet.pref'), prefSel),
        h('label', null, t('fleet.state'), stateSel)),
      listBox),
    enroll);
  return {
    el,
    dispose() {
      clearTimeout(timer);
      onSearch.cancel();
      ctx.api.removeEventListener('push', onPush);
      ctx.api.unsubscribe('fleet');
    },
  };
}

function card(label, n, kind) {
  return h('div', { class: 'stat stat-' + kind, dataset: { stat: kind } },
    h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-num' }, n ?? '—'));
}

export function deviceView(ctx, params) {
  const id = params[0] || '';
  const msg = new Message();
  const info = h('div', null, t('common.loading'));
  const shot = h('div', { class: 'shot' });
  const cmdMsg = new Message();

  async function load() {
    try {
      const d = await ctx.api.call('devices.get', { id });
      const seqs = d.seqs ? Object.entries(d.seqs).map(([k, v]) => `${k}: ${v}`).join(', ') : '—';
      clear(info, dl([
        [t('dev.status'), h('span', { class: 'dot dot-' + stateOf(d) }, t('fleet.' + stateOf(d)))],
        [t('fleet.branch'), d.branch || '—'], [t('fleet.pref'), prefName(d.pref)],
        [t('fleet.lastSeen'), fmtTime(d.last_seen, getLang())], [t('fleet.version'), d.agent_version || '—'],
        [t('fleet.screen'), d.screen || '—'], [t('dev.frame'), d.frame_hash || '—'],
        [t('dev.uptime'), d.uptime_sec != null ? `${d.uptime_sec} s` : '—'], [t('dev.seqs'), seqs],
        [t('dev.cache'), d.cache_blobs != null ? `${d.cache_blobs} / ${fmtBytes(d.cache_bytes)}` : '—'],
        [t('dev.skew'), d.clock_skew_sec != null ? `${d.clock_skew_sec} s` : '—'],
        [t('dev.enrolled'), fmtTime(d.enrolled_at, getLang())],
      ]));
      if (d.screenshot_at) shotAt = d.screenshot_at;
    } catch (e) {
      clear(info);
      msg.apiError(e);
    }
  }

  async function loadShot() {
    try {
      const s = await ctx.api.call('devices.screenshot', { id });
      const src = String(s.image || '');
      if (!src.startsWith('data:image/png;base64,') && !src.startsWith('data:image/jpeg;base64,')) throw new Error('bad image');
      clear(shot, h('img', { src, alt: t('dev.screenshot'), class: 'screenshot', id: 'device-screenshot' }), h('p', { class: 'help' }, t('dev.taken', { time: fmtTime(s.time, getLang()) })));
    } catch (e) {
      clear(shot, h('p', null, e.code === 'not_found' ? t('dev.noShot') : String(e.message || e)));
    }
  }

  async function command(name) {
    cmdMsg.clear();
    try {
      const r = await ctx.api.call('devices.command', { id, name });
      cmdMsg.ok(t('dev.sent', { name, id: r.id || '?' }));
    } catch (e) {
      cmdMsg.apiError(e);
    }
  }

  // A device push carries the whole device; a newer screenshot_at means the
  // screenshot it was asked for has arrived.
  let shotAt = '';
  const onPush = (ev) => {
    const { stream, event } = ev.detail;
    if (stream !== 'fleet' || !event) return;
    if (event.kind === 'resync') { load(); loadShot(); return; }
    if (event.kind !== 'device' || !event.device || event.device.id !== id) return;
    load();
    if (event.device.screenshot_at && event.device.screenshot_at !== shotAt) { shotAt = event.device.screenshot_at; loadShot(); }
  };
  ctx.api.addEventListener('push', onPush);
  ctx.api.subscribe('fleet').catch(() => {});
  load();
  loadShot();

  const cmds = can.command(ctx.user.role) ? h('div', { class: 'actions', role: 'group', 'aria-label': 'commands', id: 'device-commands' },
    h('button', { type: 'button', id: 'cmd-identify', onclick: () => command('identify') }, t('dev.identify')),
    h('button', { type: 'button', id: 'cmd-screenshot', onclick: () => command('screenshot') }, t('dev.reqShot')),
    h('button', { type: 'button', id: 'cmd-reload', onclick: () => command('reload') }, t('dev.reload'))) : null;

  return {
    el: h('section', { class: 'view' },
      h('p', null, h('a', { href: '#/fleet' }, '← ' + t('nav.fleet'))),
      h('h1', null, t('dev.title', { id })), msg.el,
      h('div', { class: 'two-col' },
        h('section', { class: 'panel' }, info, cmds, cmdMsg.el),
        h('section', { class: 'panel', 'aria-labelledby': 'shot-title' }, h('h2', { id: 'shot-title' }, t('dev.screenshot')), shot))),
    dispose() { ctx.api.removeEventListener('push', onPush); ctx.api.unsubscribe('fleet'); },
  };
}

// enrollPanel lets field techs and admins create a one-time enrollment
// token (shown once) for the field-tech CLI.
function enrollPanel(ctx) {
  const msg = new Message();
  const fields = new Fields(msg);
  const pref = h('select', { id: 'enroll-pref' }, h('option', { value: '' }, t('common.all')),
    PREFS.map((p) => h('option', { value: p.code }, prefName(p.code))));
  const branch = h('input', { id: 'enroll-branch', spellcheck: 'false' });
  const hours = h('input', { id: 'enroll-hours', type: 'number', min: '1', max: '720', value: '24' });
  const out = h('div', { class: 'secret', 'aria-live': 'assertive', id: 'enroll-token' });
  const form = h('form', { class: 'panel', novalidate: true, 'aria-labelledby': 'enroll-title' },
    h('h2', { id: 'enroll-title' }, t('enroll.title')), msg.el, out,
    h('div', { class: 'row' },
      fields.field('pref', t('fleet.pref'), pref), fields.field('branch', t('fleet.branch'), branch),
      fields.field('ttl_sec', t('enroll.hours'), hours)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'enroll-create' }, t('enroll.create'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fields.clear();
    clear(out);
    const p = { ttl_sec: Math.round(Number(hours.value) * 3600) };
    if (pref.value) p.pref = pref.value;
    if (branch.value.trim()) p.branch = branch.value.trim();
    try {
      const r = await ctx.api.call('enroll.create_token', p);
      const exp = r.record && r.record.expires;
      clear(out, h('p', null, t('enroll.token', { time: fmtTime(exp, getLang()) })), h('code', null, r.token || ''));
    } catch (e) { fields.showError(e); }
  });
  return form;
}
