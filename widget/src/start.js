// Starting on a page: Consent Mode's default first, then the stored choice at once (no round
// trip), then the banner from the config the server sent with this script.
import { apply, choose, everything, onChange } from './choice.js';
import { maxAgeMs, moveCookie, readCookie, removeRefusedCookies } from './cookie.js';
import { fetchJson, warn } from './dom.js';
import { showBanner, showFloatingButton, openBanner, openSettings } from './layers.js';
import { activate } from './blocking.js';
import { flush } from './ledger.js';
import { sendDefaults } from './signals.js';
import { state } from './state.js';

// W-11: the tag's data-lang or ?lang=, the page's lang, else the first of the browser's
// languages that we have; nb, nn, no are bokmål, anything else English.
const pageLanguage = (script, src) => {
  const tag = script.dataset.lang || src.searchParams.get('lang') || document.documentElement.lang ||
    navigator.languages.find((language) => /^(n[bno]|en)\b/i.test(language)) || '';
  return /^n[bno]\b/i.test(tag) ? 'nb' : 'en';
};

// C-09: a choice made under a notice version no longer valid (a material change) counts as none.
const validVersion = (version, versions) => !versions || !versions.length || versions.includes(version);

let waiting = null; // what the page asked for before the config was there
const whenReady = (action) => {
  if (state.config) action();
  else waiting = action;
};

const showConfig = (config) => {
  state.config = config;
  if (state.choices && !validVersion(state.stored.version, config.valid_policy_versions)) {
    state.choices = { necessary: true }; // the page's copy of this script was older
    apply(true);
    state.choices = null;
  }
  const ready = () => {
    if (state.choices) showFloatingButton();
    else showBanner();
    activate();
    if (state.choices) removeRefusedCookies();
    if (waiting) waiting();
    waiting = null;
  };
  if (document.body) ready();
  else document.addEventListener('DOMContentLoaded', ready);
};

export const start = (settings) => {
  const script = document.currentScript; // a classic script, also when async
  if (!script || window.ConsentServer) return;
  const src = new URL(script.src, location.href);
  Object.assign(state, { settings, script, api: new URL('api/v1/', src),
    gpc: navigator.globalPrivacyControl === true });

  sendDefaults(); // W-08: before anything else
  // An expired or outdated choice keeps its consent id (one history per device) but applies nothing.
  state.stored = readCookie();
  const { stored } = state;
  if (stored) moveCookie();
  if (stored && stored.choices && Date.now() - stored.time < maxAgeMs() &&
      validVersion(stored.version, settings.valid_policy_versions)) {
    state.choices = { ...stored.choices, necessary: true };
    if (state.gpc && !stored.gpc) state.choices.marketing = false; // W-09: GPC outranks it
    apply(true);
  }
  // Choices wait in localStorage only after a choice, which also wrote the cookie: without one
  // nothing waits (or it goes with the next choice), and a first visit spends no blocking
  // round trip to the browser on opening localStorage.
  if (stored) flush();

  const all = (on, source) => () => whenReady(() => choose(everything(on), source));
  window.ConsentServer = {
    get: () => (state.choices ? { ...state.choices } : null),
    open: () => whenReady(() => openBanner()),
    acceptAll: all(true, 'api'),
    rejectAll: all(false, 'api'),
    on: (type, listener) => type === 'change' && onChange(listener),
  };
  // A link or button of the site's own with data-consent-open opens the settings (C-08).
  document.addEventListener('click', (event) => {
    const opener = event.target.closest && event.target.closest('[data-consent-open]');
    if (!opener) return;
    event.preventDefault();
    whenReady(() => openSettings(opener));
  });

  if (location.origin !== src.origin && !settings.origins.includes(location.origin)) {
    return warn(location.origin + ' is not in CONSENT_ALLOWED_ORIGINS: no banner here');
  }
  const language = pageLanguage(script, src);
  if (language === settings.language) return showConfig(settings);
  // Another language than the script was served in: its config, then the banner.
  fetchJson(new URL('config?lang=' + language, state.api))
    .then(showConfig, (status) => warn('the config could not be loaded (' + status + ')'));
};
