import { h, clear, debounce, uid, toLocalInput, fromLocalInput, splitIDs } from '../dom.js';
import { t, errText, problemText, PREFS, prefName } from '../i18n.js';
import { Fields, Message } from '../ui.js';

// composeView is the alert form with live preview and targeted-device count.
// params[0], when set, is the id of a draft to edit.
export function composeView(ctx, params) {
  const editID = params[0] || '';
  let version = 0;
  const msg = new Message();
  const fields = new Fields(msg);

  // --- basic fields
  const priority = h('input', { type: 'number', min: '1', max: '100', value: '80', name: 'priority', inputmode: 'numeric' });
  const issuer = h('input', { name: 'issuer', value: '警視庁 / Tokyo Metropolitan Police', maxlength: '80' });

  // --- texts: one block per language; index in params is computed per build
  const blocks = [];
  const textsBox = h('div', { class: 'texts' });
  function addBlock(lang, init) {
    const b = { lang };
    const title = lang === 'ja' ? t('compose.lang.ja') : lang === 'en' ? t('compose.lang.en') : t('compose.lang.other', { lang });
    b.headline = h('input', { name: `headline-${lang}`, maxlength: '80', lang, value: (init && init.headline) || '' });
    b.body = h('textarea', { name: `body-${lang}`, rows: '4', maxlength: '400', lang }, (init && init.body) || '');
    b.instruction = h('input', { name: `instruction-${lang}`, maxlength: '200', lang, value: (init && init.instruction) || '' });
    b.err = {};
    const mk = (part, label, control) => {
      const el = fields.field(`texts.${lang}.${part}`, label, control);
      b.err[part] = el.querySelector('.field-error');
      return el;
    };
    b.el = h('fieldset', { class: 'lang-block', dataset: { lang } },
      h('legend', null, title),
      mk('headline', t('compose.headline'), b.headline),
      mk('body', t('compose.body'), b.body),
      mk('instruction', t('compose.instruction'), b.instruction),
      lang !== 'ja' && lang !== 'en' ? h('button', {
        type: 'button', class: 'link', onclick: () => {
          blocks.splice(blocks.indexOf(b), 1); b.el.remove(); refreshPreviewLangs(); changed();
        },
      }, t('compose.removeLang')) : null);
    blocks.push(b);
    textsBox.appendChild(b.el);
    refreshPreviewLangs();
    return b;
  }
  const langCode = h('input', { id: uid('lc'), size: '6', maxlength: '8', pattern: '[a-z]{2,3}(-[A-Za-z]{2})?' });
  const langErr = h('p', { class: 'field-error', role: 'alert' });
  const addLang = h('div', { class: 'inline' },
    h('label', { for: langCode.id }, t('compose.addLangCode')), langCode,
    h('button', {
      type: 'button', onclick: () => {
        const l = langCode.value.trim();
        langErr.textContent = '';
        if (!/^[a-z]{2,3}(-[A-Za-z]{2})?$/.test(l) || blocks.some((b) => b.lang === l) || blocks.length >= 8) {
          langErr.textContent = t('err.invalid');
          return;
        }
        addBlock(l); langCode.value = '';
      },
    }, t('compose.addLang')), langErr);

  // --- target
  const tname = uid('target');
  const kinds = ['all', 'prefs', 'branches', 'devices'];
  const radios = {};
  const radioBox = h('div', { class: 'radios', role: 'radiogroup' }, kinds.map((k) => {
    radios[k] = h('input', { type: 'radio', name: tname, value: k, id: uid('tk'), checked: k === 'prefs' });
    return h('label', { for: radios[k].id }, radios[k], ' ', t('compose.t.' + k));
  }));
  const prefBoxes = PREFS.map((p) => h('input', { type: 'checkbox', value: p.code, id: uid('p') }));
  const prefGrid = h('div', { class: 'pref-grid', role: 'group', 'aria-label': t('compose.t.prefs') },
    prefBoxes.map((cb) => h('label', { for: cb.id }, cb, ' ', prefName(cb.value))));
  const branchIDs = h('textarea', { rows: '2', name: 'branches', spellcheck: 'false' });
  const deviceIDs = h('textarea', { rows: '2', name: 'devices', spellcheck: 'false' });
  const branchField = fields.field('target.branches', t('compose.t.branches'), branchIDs, t('compose.idsHelp'));
  const deviceField = fields.field('target.devices', t('compose.t.devices'), deviceIDs, t('compose.idsHelp'));
  const targetErr = h('p', { class: 'field-error', role: 'alert' });
  const targetFS = h('fieldset', { class: 'target', 'aria-describedby': 'target-count' },
    h('legend', null, t('compose.target')), radioBox, prefGrid, branchField, deviceField, targetErr);
  fields.register('target', targetFS, targetErr);
  fields.register('target.prefs', prefGrid, targetErr);
  const count = h('p', { id: 'target-count', class: 'count', 'aria-live': 'polite' }, t('compose.countNA'));
  const approvalNote = h('p', { class: 'note', 'aria-live': 'polite' });
  function kind() { return kinds.find((k) => radios[k].checked) || 'all'; }
  function showTarget() {
    const k = kind();
    prefGrid.hidden = k !== 'prefs';
    branchField.hidden = k !== 'branches';
    deviceField.hidden = k !== 'devices';
  }

  // --- schedule and QR
  const effective = h('input', { type: 'datetime-local', name: 'effective' });
  const expires = h('input', { type: 'datetime-local', name: 'expires', value: toLocalInput(new Date(Date.now() + 24 * 3600e3)) });
  const qrURL = h('input', { type: 'url', name: 'qr_url', placeholder: 'https://www.npa.go.jp/', spellcheck: 'false' });
  const qrLabel = h('input', { name: 'qr_label', maxlength: '40' });

  // --- preview
  const previewLang = h('select', { id: uid('pl') });
  function refreshPreviewLangs() {
    const cur = previewLang.value || 'ja';
    clear(previewLang, blocks.map((b) => h('option', { value: b.lang, selected: b.lang === cur }, b.lang)));
  }
  const imgs = {};
  const previewStatus = h('p', { class: 'help', id: 'preview-status', 'aria-live': 'polite' }, t('compose.previewWait'));
  const previewBox = h('div', { class: 'previews' }, ['landscape', 'portrait'].map((o) => {
    imgs[o] = h('img', { class: 'preview preview-' + o, id: 'preview-' + o, alt: t('compose.previewAlt', { orient: t('compose.' + o) }), hidden: true });
    return h('figure', null, imgs[o], h('figcaption', null, t('compose.' + o)));
  }));

  // build turns the form into alerts.create params and points the text
  // fields at their index in params.texts (empty languages are left out).
  function build() {
    const p = { priority: Number(priority.value), issuer: issuer.value.trim(), texts: [] };
    for (const b of blocks) {
      const tx = { lang: b.lang, headline: b.headline.value.trim(), body: b.body.value.trim(), instruction: b.instruction.value.trim() };
      if (b.lang !== 'ja' && !tx.headline && !tx.body && !tx.instruction) continue;
      const i = p.texts.length;
      for (const part of ['headline', 'body', 'instruction']) fields.register(`texts[${i}].${part}`, b[part], b.err[part]);
      p.texts.push(tx);
    }
    const k = kind();
    const tg = {};
    if (k === 'all') tg.all = true;
    if (k === 'prefs') tg.prefs = prefBoxes.filter((cb) => cb.checked).map((cb) => cb.value);
    if (k === 'branches') tg.branches = splitIDs(branchIDs.value);
    if (k === 'devices') tg.devices = splitIDs(deviceIDs.value);
    p.target = tg;
    const eff = fromLocalInput(effective.value);
    if (eff) p.effective = eff;
    p.expires = fromLocalInput(expires.value);
    if (qrURL.value.trim()) p.qr = { url: qrURL.value.trim(), label: qrLabel.value.trim() };
    return p;
  }
  fields.field('priority', t('compose.priority'), priority);
  fields.field('issuer', t('compose.issuer'), issuer);
  fields.field('effective', t('compose.effective'), effective);
  fields.field('expires', t('compose.expires'), expires);
  fields.field('qr.url', t('compose.qrUrl'), qrURL);
  fields.field('qr.label', t('compose.qrLabel'), qrLabel);
  fields.register('qr', qrURL, fields.map.get('qr.url').err);

  // --- live updates
  // showProblems puts every problem of alerts.check / alerts.preview next
  // to its field (content guard, fit and form errors alike).
  function showProblems(problems) {
    fields.clear();
    for (const pr of problems || []) fields.showText(pr.field, problemText(pr));
  }
  let previewSeq = 0;
  async function preview() {
    const seq = ++previewSeq;
    const p = build();
    if (!p.texts.length || !p.texts[0].headline) { previewStatus.textContent = t('compose.previewWait'); return; }
    previewStatus.textContent = t('compose.previewUpdating');
    const lang = previewLang.value || 'ja';
    try {
      const res = await Promise.all(['landscape', 'portrait'].map((o) =>
        ctx.api.call('alerts.preview', { input: p, orientation: o, lang })));
      if (seq !== previewSeq) return;
      res.forEach((r, i) => {
        const o = i === 0 ? 'landscape' : 'portrait';
        const src = String(r.image || '');
        if (src.startsWith('data:image/png;base64,')) {
          imgs[o].src = src;
          imgs[o].hidden = false;
          imgs[o].classList.remove('stale');
        }
      });
      const problems = res[0].problems || [];
      showProblems(problems);
      previewStatus.textContent = problems.length ? t('compose.previewProblems', { n: problems.length }) : t('compose.previewOk');
      previewStatus.dataset.problems = String(problems.length);
    } catch (e) {
      if (seq !== previewSeq) return;
      fields.clear();
      fields.showError(e, false);
      for (const o of ['landscape', 'portrait']) imgs[o].classList.add('stale');
      previewStatus.textContent = t('compose.previewErr', { msg: errText(e) });
    }
  }
  async function countTargets() {
    const p = build();
    try {
      const r = await ctx.api.call('targets.count', { target: p.target });
      count.textContent = t('compose.count', { n: r.devices, online: r.online });
      count.dataset.devices = String(r.devices);
      approvalNote.textContent = r.needs_approval ? t('compose.needsApproval') : t('compose.noApproval');
      targetErr.textContent = '';
    } catch (e) {
      count.textContent = t('compose.countNA');
      delete count.dataset.devices;
      approvalNote.textContent = '';
      fields.showError(e, false);
    }
  }
  const debPreview = debounce(preview, 450);
  const debCount = debounce(countTargets, 300);
  function changed(ev) {
    if (ev && ev.target && ev.target.dataset && ev.target.dataset.field) fields.clearOne(ev.target.dataset.field);
    debPreview();
  }

  // --- save / submit
  const saveBtn = h('button', { type: 'button', id: 'save-draft' }, t('compose.save'));
  const submitBtn = h('button', { type: 'submit', class: 'primary', id: 'submit-alert' }, t('compose.submit'));
  async function save() {
    const p = build();
    fields.clear();
    let a;
    if (editID) a = await ctx.api.call('alerts.update', { id: editID, version, input: p });
    else a = await ctx.api.call('alerts.create', p);
    version = a.version;
    return a;
  }
  async function run(submit) {
    saveBtn.disabled = submitBtn.disabled = true;
    try {
      let a = await save();
      if (submit) {
        // Wide targets go to the approval queue; narrow ones are published
        // at once (the API refuses publish for wide targets anyway).
        const wide = !!(a.target && (a.target.all || (a.target.prefs && a.target.prefs.length)));
        a = await ctx.api.call(wide ? 'alerts.submit' : 'alerts.publish', { id: a.id, version: a.version });
      }
      ctx.go('#/alert/' + encodeURIComponent(a.id));
    } catch (e) {
      fields.showError(e);
      if (e.field) msg.error(errText(e));
    } finally {
      saveBtn.disabled = submitBtn.disabled = false;
    }
  }
  saveBtn.addEventListener('click', () => run(false));

  const form = h('form', { class: 'compose', id: 'compose-form', novalidate: true },
    h('div', { class: 'compose-main' },
      msg.el,
      h('div', { class: 'row' }, fields.map.get('priority').control.parentElement, fields.map.get('issuer').control.parentElement),
      h('h2', null, t('compose.texts')), textsBox, addLang,
      targetFS, count, approvalNote,
      h('fieldset', null, h('legend', null, t('compose.schedule')),
        h('div', { class: 'row' }, effective.parentElement, expires.parentElement)),
      h('fieldset', null, h('legend', null, t('compose.qr')),
        h('div', { class: 'row' }, qrURL.parentElement, qrLabel.parentElement)),
      h('div', { class: 'actions' }, saveBtn, submitBtn)),
    h('aside', { class: 'compose-preview', 'aria-labelledby': 'preview-title' },
      h('h2', { id: 'preview-title' }, t('compose.preview')),
      h('label', { for: previewLang.id }, t('compose.previewLang')), previewLang,
      previewStatus, previewBox));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); run(true); });
  form.addEventListener('input', (ev) => {
    changed(ev);
    const f = ev.target;
    if (f === branchIDs || f === deviceIDs || f.type === 'checkbox' || f.type === 'radio') debCount();
  });
  form.addEventListener('change', (ev) => {
    if (ev.target.type === 'radio') { showTarget(); debCount(); debPreview(); }
    if (ev.target === previewLang) debPreview();
  });

  addBlock('ja');
  addBlock('en');
  showTarget();

  if (editID) {
    ctx.api.call('alerts.get', { id: editID }).then((a) => {
      version = a.version;
      priority.value = a.priority;
      issuer.value = a.issuer || '';
      for (const tx of a.texts || []) {
        let b = blocks.find((x) => x.lang === tx.lang);
        if (!b) b = addBlock(tx.lang);
        b.headline.value = tx.headline || '';
        b.body.value = tx.body || '';
        b.instruction.value = tx.instruction || '';
      }
      const tg = a.target || {};
      const k = tg.all ? 'all' : (tg.prefs && tg.prefs.length) ? 'prefs' : (tg.branches && tg.branches.length) ? 'branches' : 'devices';
      radios[k].checked = true;
      for (const cb of prefBoxes) cb.checked = (tg.prefs || []).includes(cb.value);
      branchIDs.value = (tg.branches || []).join('\n');
      deviceIDs.value = (tg.devices || []).join('\n');
      if (a.effective) effective.value = toLocalInput(new Date(a.effective));
      if (a.expires) expires.value = toLocalInput(new Date(a.expires));
      if (a.qr) { qrURL.value = a.qr.url || ''; qrLabel.value = a.qr.label || ''; }
      showTarget();
      countTargets();
      preview();
    }).catch((e) => msg.apiError(e));
  }

  return {
    el: h('section', { class: 'view', 'aria-labelledby': 'compose-title' },
      h('h1', { id: 'compose-title' }, editID ? t('compose.editTitle', { id: editID }) : t('compose.title')), form,
      editID ? null : capImport(ctx)),
    focus: () => blocks[0].headline.focus(),
    dispose() { debPreview.cancel(); debCount.cancel(); previewSeq++; },
  };
}

// capImport turns a CAP 1.2 file into a draft (alerts.import_cap). Importing
// never publishes or cancels: a Cancel message links to the alert it names
// so the user cancels it there.
function capImport(ctx) {
  const msg = new Message();
  const fields = new Fields(msg);
  const file = h('input', { type: 'file', id: 'cap-file', accept: '.xml,application/xml,text/xml,application/cap+xml' });
  file.addEventListener('change', async () => {
    fields.clear();
    const f = file.files && file.files[0];
    if (!f) return;
    if (f.size > 1 << 20) { fields.showText('xml', t('camp.tooBig', { size: f.size })); file.value = ''; return; }
    try {
      const r = await ctx.api.call('alerts.import_cap', { xml: await f.text() });
      const a = r.alert || {};
      if (r.msg_type === 'Cancel') {
        clear(msg.el);
        msg.info(t('cap.cancel', { id: a.id }));
        msg.el.appendChild(h('p', null, h('a', { href: '#/alert/' + encodeURIComponent(a.id), id: 'cap-open' }, t('cap.open', { id: a.id }))));
      } else {
        ctx.go('#/alert/' + encodeURIComponent(a.id));
      }
    } catch (e) { fields.showError(e); } finally { file.value = ''; }
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'cap-title' },
    h('h2', { id: 'cap-title' }, t('cap.title')), msg.el,
    fields.field('xml', t('cap.file'), file, t('cap.help')));
}
