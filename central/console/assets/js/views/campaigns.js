import { h, clear, fmtTime, toLocalInput, fromLocalInput, splitIDs } from '../dom.js';
import { t, getLang, errText } from '../i18n.js';
import { Fields, Message, stateBadge, targetText, headlineOf, table, can, fmtBytes } from '../ui.js';

const MAX_IMAGE = 4 << 20;
const TYPES = ['image/png', 'image/jpeg'];

export function campaignsView(ctx) {
  const msg = new Message();
  const box = h('div', null, t('common.loading'));
  const canEdit = can.compose(ctx.user.role);
  let items = [];

  async function load() {
    try {
      const r = await ctx.api.call('campaigns.list', {});
      items = r.items || [];
      render();
    } catch (e) { clear(box); msg.apiError(e); }
  }
  async function act(fn, okText) {
    msg.clear();
    try { await fn(); if (okText) msg.ok(okText); await load(); } catch (e) { msg.error(errText(e)); }
  }
  function move(i, d) {
    const ids = items.map((x) => x.id);
    const j = i + d;
    if (j < 0 || j >= ids.length) return;
    [ids[i], ids[j]] = [ids[j], ids[i]];
    act(() => ctx.api.call('campaigns.reorder', { ids }));
  }
  function render() {
    clear(box, items.length ? table(null, [t('camp.order'), t('alerts.headline'), t('alerts.state'), { num: t('camp.duration') }, t('camp.imagesCol'), t('alerts.target'), t('alert.expires'), ''],
      items.map((c, i) => h('tr', { dataset: { campaign: c.id } },
        h('td', { class: 'num' }, String(i + 1)),
        h('th', { scope: 'row' }, headlineOf(c)),
        h('td', null, stateBadge(c.state)),
        h('td', { class: 'num' }, String(c.duration_sec)),
        h('td', null, (c.images || []).map((im) => h('div', { class: 'thumb-row' }, thumb(im), h('span', { class: 'mono' }, `${String(im.sha256 || '').slice(0, 12)}… ${fmtBytes(im.size)}`)))),
        h('td', null, targetText(c.target)),
        h('td', null, fmtTime(c.expires, getLang())),
        h('td', null, h('div', { class: 'actions' },
          canEdit ? [
            h('button', { type: 'button', disabled: i === 0, 'aria-label': `${t('camp.up')} ${c.id}`, onclick: () => move(i, -1) }, '↑'),
            h('button', { type: 'button', disabled: i === items.length - 1, 'aria-label': `${t('camp.down')} ${c.id}`, onclick: () => move(i, 1) }, '↓'),
            c.state === 'draft' ? (wideTarget(c.target)
              ? h('button', { type: 'button', onclick: () => act(() => ctx.api.call('campaigns.submit', { id: c.id, version: c.version }), t('alert.submitted')) }, t('camp.submit'))
              : h('button', { type: 'button', onclick: () => act(() => ctx.api.call('campaigns.publish', { id: c.id, version: c.version }), t('alert.published')) }, t('camp.publish'))) : null,
          ] : null,
          c.state === 'pending_approval' && can.approve(ctx.user.role) ? h('button', { type: 'button', onclick: () => act(() => ctx.api.call('campaigns.approve', { id: c.id, version: c.version }), t('alert.approved')) }, t('camp.approve')) : null,
          (c.state === 'published' || c.state === 'pending_approval') && can.cancel(ctx.user.role) ? h('button', { type: 'button', class: 'danger', onclick: () => act(() => ctx.api.call('campaigns.cancel', { id: c.id, reason: 'withdrawn in console' }), t('alert.cancelled')) }, t('camp.retire')) : null))))) : h('p', null, t('common.none')));
  }
  load();
  return {
    el: h('section', { class: 'view', 'aria-labelledby': 'camp-title' },
      h('h1', { id: 'camp-title' }, t('camp.title')), msg.el, box,
      canEdit ? createForm(ctx, load) : null),
  };
}

function createForm(ctx, reload) {
  const msg = new Message();
  const fields = new Fields(msg);
  const duration = h('input', { type: 'number', min: '3', max: '600', value: '15' });
  const jaHead = h('input', { lang: 'ja', maxlength: '80' });
  const jaBody = h('textarea', { lang: 'ja', rows: '3', maxlength: '400' });
  const enHead = h('input', { lang: 'en', maxlength: '80' });
  const enBody = h('textarea', { lang: 'en', rows: '3', maxlength: '400' });
  const kind = h('select', null, ['all', 'prefs', 'branches', 'devices'].map((k) => h('option', { value: k }, t('compose.t.' + k))));
  const ids = h('input', { spellcheck: 'false', disabled: true });
  kind.addEventListener('change', () => { ids.disabled = kind.value === 'all'; });
  const effective = h('input', { type: 'datetime-local' });
  const expires = h('input', { type: 'datetime-local', value: toLocalInput(new Date(Date.now() + 30 * 24 * 3600e3)) });
  const file = h('input', { type: 'file', accept: TYPES.join(','), id: 'camp-image' });
  const images = [];
  const imgList = h('ul', { class: 'images', 'aria-live': 'polite', id: 'camp-images' });

  function renderImages() {
    clear(imgList, images.map((im, i) => h('li', null, thumb(im),
      h('span', { class: 'mono' }, `${String(im.sha256).slice(0, 16)}… ${im.type} ${fmtBytes(im.size)}`), ' ',
      h('button', { type: 'button', class: 'link', onclick: () => { images.splice(i, 1); renderImages(); } }, t('camp.removeImage')))));
  }
  file.addEventListener('change', async () => {
    fields.clearOne('data');
    const f = file.files && file.files[0];
    if (!f) return;
    if (!TYPES.includes(f.type)) { fields.showText('data', t('camp.badType')); file.value = ''; return; }
    if (f.size > MAX_IMAGE) { fields.showText('data', t('camp.tooBig', { size: fmtBytes(f.size) })); file.value = ''; return; }
    try {
      const data = await toBase64(f);
      const r = await ctx.api.call('campaigns.upload_image', { data });
      images.push(r);
      renderImages();
      msg.ok(t('camp.uploaded', { sha: r.sha256 }));
    } catch (e) {
      fields.showError(e);
    } finally { file.value = ''; }
  });

  const form = h('form', { class: 'panel', novalidate: true, 'aria-labelledby': 'camp-new', id: 'camp-form' },
    h('h2', { id: 'camp-new' }, t('camp.new')), msg.el,
    fields.field('duration_sec', t('camp.duration'), duration),
    h('fieldset', null, h('legend', null, t('compose.lang.ja')),
      fields.field('texts[0].headline', t('compose.headline'), jaHead), fields.field('texts[0].body', t('compose.body'), jaBody)),
    h('fieldset', null, h('legend', null, t('compose.lang.en')),
      fields.field('texts[1].headline', t('compose.headline'), enHead), fields.field('texts[1].body', t('compose.body'), enBody)),
    fields.field('data', t('camp.images'), file), imgList,
    h('div', { class: 'row' }, fields.field('target.kind', t('compose.target'), kind), fields.field('target', t('compose.idsHelp'), ids)),
    h('div', { class: 'row' }, fields.field('effective', t('compose.effective'), effective), fields.field('expires', t('compose.expires'), expires)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'camp-create' }, t('camp.create'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fields.clear();
    const texts = [{ lang: 'ja', headline: jaHead.value.trim(), body: jaBody.value.trim() }];
    if (enHead.value.trim() || enBody.value.trim()) texts.push({ lang: 'en', headline: enHead.value.trim(), body: enBody.value.trim() });
    const target = {};
    if (kind.value === 'all') target.all = true;
    else target[kind.value] = splitIDs(ids.value);
    const p = { duration_sec: Number(duration.value), texts, images: images.slice(), target, expires: fromLocalInput(expires.value) };
    const eff = fromLocalInput(effective.value);
    if (eff) p.effective = eff;
    try {
      await ctx.api.call('campaigns.create', p);
      msg.ok(t('camp.created'));
      images.length = 0; renderImages();
      for (const f of [jaHead, jaBody, enHead, enBody]) f.value = '';
      await reload();
    } catch (e) { fields.showError(e); }
  });
  return form;
}

// thumb shows an uploaded image from central's content store; the hash is
// checked to be a hash before it becomes part of a URL.
function thumb(im) {
  const sha = String((im && im.sha256) || '');
  if (!/^[0-9a-f]{64}$/.test(sha)) return null;
  return h('img', { class: 'thumb', src: '/content/' + sha, alt: '', loading: 'lazy' });
}

function wideTarget(tg) {
  return !!(tg && (tg.all || (tg.prefs && tg.prefs.length)));
}

function toBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => {
      const s = String(r.result);
      resolve(s.slice(s.indexOf(',') + 1));
    };
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}
