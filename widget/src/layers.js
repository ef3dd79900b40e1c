// The first layer (a region at the foot of the page: accept, reject, settings; W-01), the
// floating "change consent" button that brings it back (C-08), and the way to the settings
// layer, which is loaded when it is first wanted (settings.js: not needed to show the banner).
import { addStyles, button, element, fetchJson, focusFirst, focusTarget, warn } from './dom.js';
import { state } from './state.js';

// The stylesheet (built from src/consent.css), given by the build.
const CSS = CONSENT_CSS;
let styled = false;

// A root of our own class (the styles stop at it), first in <body> for the first layer, which
// comes first in the tab order, last for the floating button, which must not.
const root = (last) => {
  if (!styled) addStyles(CSS, state.script.nonce);
  styled = true;
  const node = element('div', { class: 'csw' });
  if (last) document.body.append(node);
  else document.body.prepend(node);
  return node;
};

// api: the choice-making the buttons call back (start.js): all(on, source) gives a button's
// handler, choose(wanted, source) takes the settings layer's switches. Gives the functions in
// the order start.js names them (an array, which the build can shorten).
export const layers = (api) => {
  let banner, floating, spacer, opener, settingsLayer;

  const removeBanner = () => {
    if (!banner) return;
    banner.parentNode.remove();
    spacer.remove();
    banner = null;
  };

  const hide = () => {
    const hadFocus = banner && banner.contains(document.activeElement);
    removeBanner();
    showFloatingButton();
    const open = document.querySelector('dialog.csw-d[open]');
    if (open) open.close();
    if (hadFocus) focusFirst(opener, floating);
  };

  const showFloatingButton = () => {
    if (state.script.dataset.button === 'false' || !state.choices) return;
    if (!floating) {
      floating = button(state.config.texts.change, (event) => openBanner(event.currentTarget),
        'csw-fab');
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
    banner = element('section', { class: 'csw-b', 'aria-labelledby': 'csw-t', tabindex: '-1' }, [
      element('h2', { id: 'csw-t' }, [texts.title]),
      element('p', 0, [texts.body + ' ', element('a', { href: privacyUrl }, [texts.privacy_link])]),
      gpc ? element('p', 0, [texts.gpc]) : null,
      // Its label says what it does: under GPC marketing stays off (W-09).
      element('div', { class: 'csw-row' }, [button(texts[gpc ? 'accept_gpc' : 'accept_all'],
        api.all(true, 'banner')), button(texts.reject_all, api.all(false, 'banner')),
      settingsButton(texts.settings)]),
    ]);
    // C-04: a banner opened again can be left with Escape; the choice stays as it was.
    banner.onkeydown = (event) => {
      if (event.key === 'Escape' && state.choices) hide();
    };
    root(false).append(banner);
    if (floating) floating.hidden = true;
    // Room at the end of the page, so that its last lines can be scrolled clear of the banner.
    spacer = element('div', { 'aria-hidden': 'true' });
    spacer.style.height = banner.offsetHeight + 'px';
    document.body.append(spacer);
  };

  const openBanner = (from) => {
    opener = focusTarget(from);
    showBanner();
    banner.focus();
  };

  // The settings layer's code and the full config (descriptions, cookies, all texts), asked for
  // together once, when the visitor first shows an interest (a pointer over Settings, a click).
  const loadSettings = () => settingsLayer || (settingsLayer = Promise.all([
    import(new URL('widget-settings.js', state.script.src)),
    fetchJson(new URL('config?lang=' + state.config.language, state.api)),
  ]).then(([module, config]) => module.default({ ...api, state, config, root }),
  (error) => {
    settingsLayer = null;
    warn('the settings could not be loaded (' + error + ')');
  }));

  // from: the element to give the focus back to when the settings close.
  const openSettings = (from) => {
    const returnTo = focusTarget(from);
    loadSettings().then((open) => open && open(() => focusFirst(returnTo, opener, floating)));
  };

  return [hide, showBanner, showFloatingButton, openBanner, openSettings];
};
