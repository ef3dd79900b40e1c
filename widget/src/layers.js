// The first layer (a region at the foot of the page: accept, reject, settings; W-01), the
// floating "change consent" button that brings it back (C-08), and the way to the settings
// layer, which is loaded when it is first wanted (settings.js: not needed to show the banner).
import { addStyles, button, buttonRow, element, focusFirst, focusTarget, warn } from './dom.js';
import { state } from './state.js';

// The stylesheet (built from src/consent.css), given by the build.
const CSS = CONSENT_CSS;
let styled = false;

// A root of our own class (the styles stop at it), first in <body> for the first layer, which
// comes first in the tab order, last for the floating button, which must not.
const root = (last) => {
  if (!styled) addStyles(CSS);
  styled = true;
  const node = element('div', { class: 'csw' });
  if (last) document.body.append(node);
  else document.body.prepend(node);
  return node;
};

// api: the choice-making the buttons call back (start.js): all(on, source) gives a button's
// handler, choose(wanted, source) takes the settings layer's switches; and allowed(node)
// (blocking.js), which the settings layer asks of the iframes it covers. Gives the functions in
// the order start.js names them (an array, which the build can shorten).
export const layers = (api) => {
  let banner, floating, spacer, opener, settingsLayer, live;

  // After the first layer is shown and usable (where there is no idle callback, at once after).
  const whenIdle = (action) => (window.requestIdleCallback || setTimeout)(action);

  // A live region that tells screen readers a choice was saved: made with the first layer or
  // the floating button, so that it is there before the choice.
  const liveRegion = () => {
    if (live) return;
    live = root(true);
    live.role = 'status';
    live.classList.add('csw-sr');
  };

  const removeBanner = () => {
    if (!banner) return;
    banner.parentNode.remove();
    spacer.remove();
    banner = null;
  };

  const hide = () => {
    const hadFocus = banner && banner.contains(document.activeElement);
    removeBanner();
    showFloatingButton(); // (an open settings dialog closes itself: settings.js)
    if (hadFocus) focusFirst(opener, floating);
  };

  // data-button on the tag: "false" (none: the site links to the settings itself), "small"
  // (smaller, in the right corner, clear of the headings and text that start on the left),
  // else the default.
  const showFloatingButton = () => {
    const look = state.script.dataset.button;
    if (look === 'false' || !state.choices) return;
    if (!floating) {
      floating = button(state.config.texts.change, (event) => openBanner(event.currentTarget),
        'csw-fab csw-' + look);
      liveRegion();
      root(true).append(floating);
    }
    floating.hidden = false;
  };

  const settingsButton = (text) => {
    const node = button(text, () => openSettings());
    node.onpointerenter = node.onfocus = loadSettings;
    return node;
  };

  const showBanner = () => {
    removeBanner(); // shown again (ConsentServer.open() twice): one banner, one spacer
    const { texts, privacy_url: privacyUrl } = state.config;
    const { gpc } = state;
    // On the notice's own page the first layer is compact: its words are that page's, and it
    // does not link to itself (GPC's reason stays).
    const onNotice = location.href.split(/[?#]/)[0] === privacyUrl;
    let words;
    banner = element('section', { class: 'csw-b', 'aria-labelledby': 'csw-t', tabindex: '-1' }, [
      element('h2', { id: 'csw-t' }, [texts.title]),
      words = onNotice && !gpc ? null : element('div', { class: 'csw-x' }, [
        onNotice ? null : element('p', 0, [texts.body]), gpc ? element('p', 0, [texts.gpc]) : null]),
      onNotice ? null : element('p', 0, [element('a', { href: privacyUrl }, [texts.privacy_link])]),
      // Its label says what it does: under GPC marketing stays off (W-09).
      buttonRow([button(texts[gpc ? 'accept_gpc' : 'accept_all'], api.all(true, 'banner')),
        button(texts.reject_all, api.all(false, 'banner')), settingsButton(texts.settings)]),
    ]);
    // C-04: a banner opened again can be left with Escape; the choice stays as it was.
    banner.onkeydown = (event) => {
      if (event.key === 'Escape' && state.choices) hide();
    };
    root(false).append(banner);
    liveRegion();
    if (floating) floating.hidden = true;
    // Room at the end of the page, so that its last lines can be scrolled clear of the banner,
    // as high as the banner whenever its size changes (a phone turned); and A-02: words cut to
    // fit can be scrolled with the keyboard. Both read from the frame's own layout, after it,
    // never forcing one (so every read before the first write).
    const shown = banner;
    const room = spacer = element('div');
    document.body.append(room);
    new ResizeObserver(() => {
      const cut = words && words.scrollHeight > words.clientHeight;
      room.style.height = shown.offsetHeight + 'px';
      if (cut) words.tabIndex = 0;
    }).observe(shown);
    // The settings layer's file, fetched while the visitor reads (once the page has had half a
    // second for its first frames), so that it opens at once; made only when it is wanted.
    setTimeout(() => whenIdle(() => secondFile().catch(() => {})), 500);
  };

  // The first layer as a page starts, with the next frame (whose layout it is part of), unless
  // a choice or a call of the site's own came first.
  const showFirst = () => requestAnimationFrame(() => banner || state.choices || showBanner());

  // After a choice, in the page's language (the config's).
  const saySaved = () => {
    if (live) live.textContent = state.config.texts.saved;
  };

  const openBanner = (from) => {
    opener = focusTarget(from);
    showBanner();
    banner.focus();
  };

  // The second file (/widget-settings.js: the settings layer with the full config in the
  // page's language, and the sender of choices to the ledger), not needed to show the banner.
  // Asked for once: the browser keeps a module that failed to load as failed for the page.
  let second;
  const secondFile = () => second || (second = import(new URL('widget-settings.js?lang=' +
    state.config.language, state.script.src)));

  // The settings layer, made once: at a sign of interest (a pointer over Settings, the focus)
  // or the click; its file is mostly there by then (fetched on idle, see showBanner).
  const loadSettings = () => settingsLayer || (settingsLayer = secondFile().then((module) =>
    module.default({ ...api, state, root, openSettings }), (error) => {
    settingsLayer = null;
    warn('no settings (' + error + ')');
  }));

  // from: the element to give the focus back to when the settings close.
  const openSettings = (from) => {
    const returnTo = focusTarget(from);
    loadSettings().then((made) => made && made[0](() => focusFirst(returnTo, opener, floating)));
  };

  // What covers a refused iframe (blocking.js), once the second file is there.
  const placeholder = () => new Promise((done) => whenIdle(done)).then(loadSettings)
    .then((made) => made && made[1]);

  return [hide, showFirst, showFloatingButton, openBanner, openSettings, saySaved,
    secondFile, placeholder];
};
