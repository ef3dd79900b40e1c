// consent-server widget (MIT). The server fills in SERVER (cookie name, max age, Consent Mode
// map, valid notice versions) and CSS when it serves this file, and strips comments and
// indentation (see web/widget.py); the 5 KB gzip budget has no room for a licence banner.
((w, d) => {
  const me = d && (d.currentScript || d.querySelector('script[src*="/widget.js"]'));
  if (!me || w.ConsentServer) return;
  const SERVER = {/*SERVER*/};
  const CSS = '/*CSS*/';
  const QUEUE = 'consent-server:pending';
  const src = new URL(me.src, location.href);
  const api = new URL('api/v1/', src);
  const opt = me.dataset;
  const gpc = navigator.globalPrivacyControl === true;
  const listeners = [];
  const mode = SERVER.m;
  let cfg, choices, stored, root, banner, dialog, fab, spacer, back, wanted, busy, again, sending;
  let mem = []; // the retry queue when localStorage is off

  // W-11: the tag's data-lang or ?lang=, the page's lang, else the first of the browser's
  // languages that we have; nb, nn, no -> bokmål, anything else English.
  const tag = opt.lang || src.searchParams.get('lang') || d.documentElement.lang ||
    navigator.languages.find((l) => /^(n[bno]|en)\b/i.test(l)) || '';
  const lang = /^n[bno]\b/i.test(tag) ? 'nb' : 'en';
  // The config (texts, purposes, versions) is asked for first: the banner waits for nothing else.
  const json = (r) => (r.ok ? r.json() : Promise.reject(r.status));
  const config = fetch(new URL('config?lang=' + lang, api)).then(json);

  const gtag = function () { (w.dataLayer = w.dataLayer || []).push(arguments); };
  // Consent Mode v2: every type the purposes map, and personalization_storage, which none grants.
  const signals = (c) => {
    const out = { personalization_storage: 'denied' };
    for (const k in mode) mode[k].forEach((t) => { out[t] = c[k] ? 'granted' : 'denied'; });
    return out;
  };

  // An element: attributes (null is left out, `on` is the click handler) and children.
  const h = (name, attrs, kids) => {
    const e = d.createElement(name);
    for (const k in attrs) if (attrs[k] != null) k === 'on' ? e.onclick = attrs[k] : e.setAttribute(k, attrs[k]);
    (kids || []).forEach((k) => k != null && e.append(k));
    return e;
  };
  const $$ = (sel, el) => [...(el || d).querySelectorAll(sel)];

  // ---- the stored choice: one first-party cookie (W-06)
  // The same server's settings as in /api/v1/config, known here before it answers.
  const NAME = SERVER.c;
  const maxAge = () => SERVER.d * 864e5;
  const readCookie = () => { // null also where cookies throw (a sandboxed iframe)
    try {
      const pair = d.cookie.split('; ').find((c) => c.indexOf(NAME + '=') === 0);
      return pair && JSON.parse(decodeURIComponent(pair.slice(NAME.length + 1)));
    } catch (e) { return null; }
  };
  const writeCookie = () => {
    d.cookie = NAME + '=' + encodeURIComponent(JSON.stringify(stored)) + '; Max-Age=' +
      Math.round((stored.time + maxAge() - Date.now()) / 1e3) + '; Path=/; SameSite=Lax' + (location.protocol === 'https:' ? '; Secure' : '');
  };
  const forget = (name) => {
    const host = location.hostname.split('.');
    const base = name + '=; Max-Age=0; Path=/';
    d.cookie = base;
    for (let i = 0; i < host.length - 1; i++) d.cookie = base + '; Domain=.' + host.slice(i).join('.');
  };
  // W-05: a refused purpose's declared cookies go ("_ga_*" is a prefix).
  const wipe = () => {
    const names = d.cookie.split('; ').map((c) => c.split('=')[0]);
    (cfg ? cfg.purposes : []).forEach((p) => {
      if (p.required || choices[p.key]) return;
      (p.cookies || []).forEach((c) => names.forEach((n) => {
        const pre = c.name.slice(-1) === '*';
        if (pre ? n.indexOf(c.name.slice(0, -1)) === 0 : n === c.name) forget(n);
      }));
    });
  };

  // ---- the ledger: POST each choice; a failed one waits in localStorage for the next page (W-07)
  const queue = () => { try { return JSON.parse(localStorage.getItem(QUEUE)) || []; } catch (e) { return mem; } };
  const keep = (q) => { mem = q; try { q.length ? localStorage.setItem(QUEUE, JSON.stringify(q)) : localStorage.removeItem(QUEUE); } catch (e) { /* kept in memory */ } };
  // A v4 UUID; randomUUID exists only in secure contexts.
  const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11)
    .replace(/[018]/g, (c) => (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16)));
  const flush = () => {
    const q = queue();
    if (sending || !q.length) return;
    sending = 1;
    const ev = q[0];
    if (!ev.consent_id && stored && stored.id) ev.consent_id = stored.id;
    fetch(new URL('consents', api), { method: 'POST', keepalive: true, headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(ev) })
      .then(json)
      .then((rec) => {
        stored = readCookie() || stored;
        if (stored && stored.id !== rec.consent_id) { stored.id = rec.consent_id; writeCookie(); }
        return 1;
      }, (status) => status >= 400 && status < 500 && status !== 429) // a refused event never succeeds
      .then((done) => {
        const now = queue();
        if (done) keep(now.filter((e) => e.event_id !== ev.event_id));
        sending = 0;
        if (done) flush();
      });
  };

  // ---- applying a choice: Consent Mode, held-back scripts and iframes, cookies, listeners
  const granted = (el) => el.dataset.consent.split(/[\s,]+/).every((k) => choices && choices[k]);
  const placeholder = (el) => {
    const p = cfg.purposes.find((x) => x.key === el.dataset.consent.split(/[\s,]+/)[0]);
    const ph = h('div', { class: 'csw csw-ph' }, [h('p', 0, [p ? p.name + ': ' + p.description : '']),
      h('button', { type: 'button', on: () => settings() }, [cfg.texts.settings])]);
    // Laid over the empty iframe, in its box: nothing on the page moves.
    ph.style.width = el.offsetWidth + 'px';
    ph.style.height = el.offsetHeight + 'px';
    return ph;
  };
  // Held-back elements run once, in document order: an external script is awaited before the next.
  const activate = () => {
    if (d.readyState === 'loading') return d.addEventListener('DOMContentLoaded', activate, { once: true });
    if (busy) { again = 1; return; }
    busy = 1;
    const list = $$('script[type="text/plain"][data-consent],iframe[data-consent]');
    const step = () => {
      const el = list.shift();
      if (!el) { busy = 0; if (again) { again = 0; activate(); } return; }
      if (!el.isConnected) return step();
      const ok = granted(el);
      if (el.tagName === 'IFRAME') {
        const ph = el.previousElementSibling;
        const has = ph && ph.classList.contains('csw-ph');
        if (ok && el.dataset.src && el.getAttribute('src') !== el.dataset.src) el.src = el.dataset.src;
        if (!ok && el.getAttribute('src') && el.getAttribute('src') !== 'about:blank') el.src = 'about:blank';
        if (ok && has) ph.remove();
        if (!ok && cfg && !has) el.before(placeholder(el));
        return step();
      }
      if (!ok) return step();
      const s = d.createElement('script');
      [...el.attributes].forEach((a) => { if (!/^(type|data-src|data-type|nonce)$/.test(a.name)) s.setAttribute(a.name, a.value); });
      if (el.dataset.type) s.type = el.dataset.type;
      s.nonce = el.nonce;
      const url = el.dataset.src || el.getAttribute('src');
      if (url) { s.src = url; s.async = false; s.onload = s.onerror = step; } else s.text = el.text;
      el.replaceWith(s);
      if (!url) step();
    };
    step();
  };
  const apply = (first) => {
    gtag('consent', 'update', signals(choices));
    activate();
    if (cfg) wipe();
    if (first) return;
    const detail = { ...choices };
    listeners.forEach((fn) => { try { fn(detail); } catch (e) { setTimeout(() => { throw e; }); } });
    d.dispatchEvent(new CustomEvent('consent:change', { detail }));
  };

  // ---- the visitor's choice
  const choose = (c, source) => {
    choices = { necessary: true };
    cfg.purposes.forEach((p) => { if (!p.required) choices[p.key] = !!c[p.key]; });
    const optional = { ...choices };
    delete optional.necessary;
    stored = { id: stored && stored.id, choices, version: cfg.policy_version, time: Date.now(), gpc };
    writeCookie();
    const q = queue();
    q.push({ consent_id: stored.id || undefined, event_id: uuid(), choices: optional,
      policy_version: cfg.policy_version, language: cfg.language, source, gpc });
    keep(q);
    hide();
    apply();
    flush();
  };
  const all = (on) => {
    const c = {};
    cfg.purposes.forEach((p) => { c[p.key] = on && !(gpc && p.key === 'marketing'); }); // W-09
    return c;
  };
  // C-07: the event names where the choice was made (banner, settings layer, the page's code).
  const every = (on, source) => () => whenReady(() => choose(all(on), source));

  // ---- rendering
  const button = (text, on, cls) => h('button', { type: 'button', class: cls, on }, [text]);
  const privacy = () => h('a', { href: cfg.privacy_url }, [cfg.texts.privacy_link]);
  const notice = () => (gpc ? h('p', 0, [cfg.texts.gpc]) : null);
  const mount = () => {
    if (root) return;
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      d.adoptedStyleSheets = [...d.adoptedStyleSheets, sheet];
    } catch (e) { d.head.append(h('style', { nonce: me.nonce || null }, [CSS])); }
    root = h('div', { class: 'csw' });
    spacer = h('div', { 'aria-hidden': 'true' });
    d.body.prepend(root);
    d.body.append(spacer);
  };
  const showBanner = () => {
    mount();
    if (banner) banner.remove();
    const t = cfg.texts;
    banner = h('section', { class: 'csw-b', 'aria-labelledby': 'csw-t', tabindex: '-1' }, [
      h('h2', { id: 'csw-t' }, [t.title]),
      h('p', 0, [t.body + ' ', privacy()]),
      notice(),
      h('div', { class: 'csw-row' }, [button(t.accept_all, every(1, 'banner')),
        button(t.reject_all, every(0, 'banner')), button(t.settings, () => settings())]),
    ]);
    // C-04: a banner opened again can be left with Escape; the choice stays as it was.
    banner.onkeydown = (e) => { if (e.key === 'Escape' && choices) hide(); }; // no `return false`
    root.append(banner);
    if (fab) fab.hidden = true;
    spacer.style.height = banner.offsetHeight + 'px';
  };
  const refocus = (...els) => {
    const to = els.find((e) => e && e.isConnected && !e.hidden);
    if (to) to.focus();
  };
  const hide = () => {
    const inside = banner && banner.contains(d.activeElement);
    if (banner) { banner.remove(); banner = null; spacer.style.height = ''; }
    showFab();
    if (dialog && dialog.open) dialog.close();
    if (inside) refocus(back, fab);
  };
  const showFab = () => {
    if (opt.button === 'false' || !cfg || !choices) return;
    mount();
    if (!fab) root.append(fab = button(cfg.texts.change, (e) => open(e.currentTarget), 'csw-fab'));
    fab.hidden = false;
  };
  const open = (from) => whenReady(() => {
    back = from && from.focus ? from : d.activeElement;
    showBanner();
    banner.focus();
  });
  // The settings layer: a modal dialog, every optional purpose off unless chosen (C-05).
  const settings = () => whenReady(() => {
    mount();
    const t = cfg.texts;
    const opener = d.activeElement;
    if (dialog) dialog.remove();
    const boxes = {};
    const rows = cfg.purposes.map((p) => {
      const id = 'csw-' + p.key;
      const box = boxes[p.key] = h('input', { type: 'checkbox', role: 'switch', id,
        'aria-describedby': id + '-d', checked: p.required || (choices && choices[p.key]) ? '' : null, disabled: p.required ? '' : null });
      return h('div', { class: 'csw-p' }, [
        h('div', { class: 'csw-row' }, [box, h('label', { for: id }, [p.name]),
          p.required ? h('span', 0, [t.always_on]) : null]),
        h('p', { id: id + '-d' }, [p.description]),
        p.cookies && p.cookies.length ? h('ul', 0, p.cookies.map((c) =>
          h('li', 0, [h('code', 0, [c.name]), ` ${c.provider}, ${c.lifetime}: ${c.description}`]))) : null,
      ]);
    });
    const save = () => {
      const c = {};
      for (const k in boxes) c[k] = boxes[k].checked;
      choose(c, 'preferences');
    };
    dialog = h('dialog', { class: 'csw-d', 'aria-modal': 'true', 'aria-labelledby': 'csw-st' }, [
      h('h2', { id: 'csw-st' }, [t.settings]),
      h('p', 0, [privacy()]),
      notice(),
      ...rows,
      h('div', { class: 'csw-row' }, [button(t.save, save), button(t.accept_all, every(1, 'preferences')),
        button(t.reject_all, every(0, 'preferences')), button(t.close, () => dialog.close())]),
    ]);
    // Tab and Shift-Tab stay inside; A-03: Escape closes without saving.
    dialog.onkeydown = (e) => {
      if (e.key !== 'Tab') return;
      const f = $$('a,button,input:not([disabled])', dialog);
      const i = f.indexOf(d.activeElement);
      if (e.shiftKey ? i <= 0 : i === f.length - 1) { e.preventDefault(); f[e.shiftKey ? f.length - 1 : 0].focus(); }
    };
    dialog.onclose = () => {
      dialog.remove();
      refocus(opener, back, fab); // back where the visitor was, else the floating button
    };
    root.append(dialog);
    dialog.showModal();
    $$('input:not([disabled])', dialog)[0].focus();
  });

  // ---- start: the config (texts, purposes, versions), then show or keep quiet
  const whenReady = (fn) => { if (cfg) fn(); else wanted = fn; };
  // C-09: a choice made under a notice version no longer valid (a material change) is asked again.
  const valid = (versions) => !versions || !versions.length || versions.indexOf(stored.version) >= 0;
  const start = (c) => {
    cfg = c;
    if (choices && !valid(c.valid_policy_versions)) { // the page's copy of widget.js was older
      choices = { necessary: true };
      apply(true);
      choices = null;
    }
    const ready = () => {
      if (!choices) showBanner(); else showFab();
      activate();
      if (choices) wipe();
      if (wanted) { wanted(); wanted = null; }
    };
    d.body ? ready() : d.addEventListener('DOMContentLoaded', ready);
  };

  // W-08: the default before anything else; then at once the stored choice, with no round trip.
  const s0 = signals({ necessary: 1 });
  s0.wait_for_update = 500;
  gtag('consent', 'default', s0);
  // An expired or outdated choice keeps its consent id (one history per device) but applies nothing.
  stored = readCookie();
  if (stored && stored.choices && Date.now() - stored.time < maxAge() && valid(SERVER.v)) {
    choices = { ...stored.choices, necessary: true };
    if (gpc && !stored.gpc) choices.marketing = false; // W-09: GPC outranks an earlier grant
    apply(true);
  }
  flush();

  w.ConsentServer = {
    get: () => (choices ? { ...choices } : null),
    open: () => open(),
    acceptAll: every(1, 'api'),
    rejectAll: every(0, 'api'),
    on: (type, fn) => { if (type === 'change') listeners.push(fn); },
  };
  d.addEventListener('click', (e) => {
    const el = e.target.closest && e.target.closest('[data-consent-open]');
    if (el) { e.preventDefault(); open(el); }
  });
  config.then(start, () => {});
})(globalThis, globalThis.document);
