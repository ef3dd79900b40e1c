// The banner's state, written here only (others read `state`, and change it by these functions):
//   settings: CONSENT_SETTINGS, the first layer's config the server put before this script;
//   config: the config in the page's language (the settings, or /api/v1/config);
//   choices: the choice in force, {necessary: true, analytics, marketing}, or none;
//   stored: the cookie's value, {id, choices, version, time, gpc, domain};
//   gpc: the browser sends Global Privacy Control (W-09);
//   api: the URL of /api/v1/ on the consent server; script: the <script> that loaded us.
import { cookieDomain, readCookie, removeCookie, setCookie } from './cookie.js';

const DAY = 864e5;
export const state = {};

const maxAgeMs = () => state.settings.cookie.max_age_days * DAY;

// C-09: a choice made under a notice version no longer valid (a material change) counts as none.
const validVersion = (version, versions) => !versions || !versions.length || versions.includes(version);

// The stored choice into its cookie, on the configured domain only: one cookie, never two (W-06).
const save = () => {
  const { stored } = state;
  const { cookie } = state.settings;
  stored.domain = cookieDomain(cookie);
  removeCookie(cookie.name, stored.domain);
  setCookie(cookie.name, encodeURIComponent(JSON.stringify(stored)),
    Math.round((stored.time + maxAgeMs() - Date.now()) / 1e3), stored.domain);
};

// At start: settings, script, api and gpc.
export const begin = (fields) => Object.assign(state, fields);

// Then, from the consent cookie's values (cookie.js), the stored choice, in force unless expired
// or made under an outdated notice; either way it keeps its consent id (one history per
// device). It moves when CONSENT_COOKIE_DOMAIN changes (it records the domain it was written
// on), and copies elsewhere go.
export const restore = (values) => {
  const copies = readCookie(state.settings.cookie, values);
  const stored = state.stored = copies[0];
  if (!stored) return;
  if ((stored.domain || '') !== cookieDomain(state.settings.cookie) || copies.length > 1) save();
  if (stored.choices && Date.now() - stored.time < maxAgeMs() &&
      validVersion(stored.version, state.settings.valid_policy_versions)) {
    state.choices = { ...stored.choices, necessary: true };
    if (state.gpc && !stored.gpc) state.choices.marketing = false; // W-09: GPC outranks it
  }
};

// The config in the page's language. True when it ends the choice in force: made under a notice
// it no longer lists (the page's copy of this script was older).
export const setConfig = (config) => {
  state.config = config;
  const outdated = state.choices &&
    !validVersion(state.stored.version, config.valid_policy_versions);
  if (outdated) state.choices = null;
  return outdated;
};

// A choice made now; the consent id stays. wanted: purpose -> on, or true for every purpose
// (under GPC all but marketing: W-09), or false for none.
export const record = (wanted) => {
  const { config, stored } = state;
  const choices = state.choices = { necessary: true };
  for (const { key, required } of config.purposes) {
    if (required) continue;
    choices[key] = wanted === true ? !(state.gpc && key === 'marketing') : !!wanted[key];
  }
  state.stored = { id: stored && stored.id, choices, version: config.policy_version,
    time: Date.now(), gpc: state.gpc };
  save();
};

// The consent id the ledger gave this device. The cookie may carry it already (set by the
// server under CONSENT_COOKIE_DOMAIN, or by another page), so it is read again first.
export const keepId = (id) => {
  const stored = state.stored = readCookie(state.settings.cookie)[0] || state.stored;
  if (stored.id !== id) {
    stored.id = id;
    save();
  }
};
