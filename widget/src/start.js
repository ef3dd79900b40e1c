// Starting on a page, and the one place the modules are wired together (the lower ones get what
// they call back as arguments): Consent Mode's default at once, then the stored choice (as soon
// as the browser's cookie store answers; no round trip to the server), then the banner from the
// config the server sent with this script. Making a choice lives here too, as it reaches every
// module.
import { cookieValues, removeRefusedCookies } from './cookie.js';
import { fetchJson, warn } from './dom.js';
import { allowed, blocking } from './blocking.js';
import { layers } from './layers.js';
import { keep, pending, queueChoice } from './queue.js';
import { sendDefaults, sendUpdate } from './signals.js';
import { begin, keepId, record, restore, setConfig, state } from './state.js';

// W-11: the tag's data-lang or ?lang=, the page's lang, else the first of the browser's
// languages that we have; anything but Norwegian is English. A Norwegian tag is passed on as
// nb, nn or no: the server reads no as bokmål (N-08), so a page in `no` asks for the config
// once unless its script tag says ?lang=nb (mapping it here would cost the 5 KB budget).
const pageLanguage = (script, src) => {
  const tag = script.dataset.lang || src.searchParams.get('lang') || document.documentElement.lang ||
    navigator.languages.find((language) => /^(n[bno]|en)\b/i.test(language));
  return /^n[bno]\b/i.test(tag) ? tag.slice(0, 2) : 'en';
};

let waiting = null; // what the page asked for before the config was there
const whenReady = (action) => {
  if (state.config) action();
  else waiting = action;
};

const listeners = [];

// first: the stored choice applied as a page starts (nobody is told of a change).
const apply = (choices, first) => {
  sendUpdate(choices);
  activate();
  removeRefusedCookies(state.settings.purposes, choices);
  if (first) return;
  const detail = { ...choices };
  for (const listener of listeners) {
    try {
      listener(detail);
    } catch (error) {
      setTimeout(() => { throw error; }); // a site's listener does not stop the others
    }
  }
  document.dispatchEvent(new CustomEvent('consent:change', { detail }));
};

// C-07: source names where the choice was made (banner, preferences, api).
const choose = (wanted, source) => {
  record(wanted);
  queueChoice(source);
  hide();
  saySaved();
  apply(state.choices);
  flush();
};

// A handler that chooses every purpose, or none (a button, ConsentServer.acceptAll).
const all = (on, source) => () => whenReady(() => choose(on, source));

const [hide, showFirst, showFloatingButton, openBanner, openSettings, saySaved, secondFile,
  placeholder] = layers({ all, choose, allowed });

// The queued choices go to the ledger once the second file is there (a failure leaves them
// queued for the next page).
const flush = () => secondFile().then((module) => module.flush({ state, keepId, pending, keep }),
  () => {});
const activate = blocking(placeholder);

const showConfig = (config) => {
  if (setConfig(config)) apply({ necessary: true }, true); // the refusal, told to the tags
  // Choices wait in localStorage only after a choice, which also wrote the cookie: without one
  // nothing waits (or it goes with the next choice), and a first visit spends no blocking
  // round trip to the browser on opening localStorage. The second file comes only when
  // something waits, and only now: it is asked for in the config's language.
  if (state.stored && pending().length) flush();
  const ready = () => {
    if (state.choices) {
      showFloatingButton();
      removeRefusedCookies(state.settings.purposes, state.choices);
    } else showFirst();
    activate();
    if (waiting) waiting();
    waiting = null;
    // A page that asks for the second file's extras (a sign-up form, the floating button
    // hidden while the page scrolls) gets it now; after a choice it comes anyway (extras.js).
    if (document.querySelector('[data-consent-signup],.csw-scroll')) flush();
  };
  if (document.body) ready();
  else document.addEventListener('DOMContentLoaded', ready);
};

export const start = async (settings) => {
  const script = document.currentScript; // a classic script, also when async
  // One banner a page, even when the tag is there twice (ConsentServer comes a moment later).
  if (!script || 'ConsentServer' in window) return;
  window.ConsentServer = undefined;
  const src = new URL(script.src, location.href);
  begin({ settings, script, api: new URL('api/v1/', src),
    gpc: navigator.globalPrivacyControl === true });
  sendDefaults(); // W-08: before any update, at once
  // A link or button of the site's own with data-consent-open opens the settings (C-08).
  document.addEventListener('click', (event) => {
    const opener = event.target.closest && event.target.closest('[data-consent-open]');
    if (!opener) return;
    event.preventDefault();
    whenReady(() => openSettings(opener));
  });
  restore(await cookieValues(settings.cookie));
  if (state.choices) apply(state.choices, true);
  // Only now: get() never answers "no choice" for a visitor who made one.
  window.ConsentServer = {
    get: () => (state.choices ? { ...state.choices } : null),
    open: () => whenReady(openBanner),
    acceptAll: all(true, 'api'),
    rejectAll: all(false, 'api'),
    on: (type, listener) => type === 'change' && listeners.push(listener),
  };
  if (location.origin !== src.origin && !settings.origins.includes(location.origin)) {
    return warn(location.origin + ' is not in CONSENT_ALLOWED_ORIGINS: no banner here');
  }
  const language = pageLanguage(script, src);
  if (language === settings.language && !state.gpc) return showConfig(settings);
  // Another language than the script was served in, or Global Privacy Control on (its texts
  // are not in the script: banner.py): the config, then the banner.
  fetchJson(new URL('config?lang=' + language, state.api))
    .then(showConfig, (status) => warn('no config (' + status + ')'));
};
