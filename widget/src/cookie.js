// The stored choice: one first-party cookie (W-06). With CONSENT_COOKIE_DOMAIN the consent
// server sets it too (Safari keeps cookies written by script for 7 days only), on the shared
// parent domain: one cookie for every subdomain, and copies under other domains are removed.
import { state } from './state.js';

const DAY = 864e5;
const settings = () => state.settings.cookie;

export const maxAgeMs = () => settings().max_age_days * DAY;

// The domain the cookie lives on: the configured one when this page is under it, else none
// (a host-only cookie).
export const cookieDomain = () => {
  const domain = settings().domain;
  const host = location.hostname;
  return domain && (host === domain || host.endsWith('.' + domain)) ? domain : '';
};

const named = (name) => document.cookie.split('; ').filter((pair) => pair.startsWith(name + '='));

// The stored value, or null: also where cookies cannot be read (a sandboxed iframe). Of two
// copies (another domain's, left by an earlier setting), the later choice.
export const readCookie = () => {
  const name = settings().name;
  try {
    return named(name).map((pair) => JSON.parse(decodeURIComponent(pair.slice(name.length + 1))))
      .reduce((latest, value) => (latest && latest.time > value.time ? latest : value), null);
  } catch (error) {
    return null;
  }
};

// Every domain a cookie of this page may have been set on: host-only (''), then each parent.
const domains = () => {
  const labels = location.hostname.split('.');
  return [''].concat(labels.slice(0, -1).map((_, i) => labels.slice(i).join('.')));
};

// Delete a cookie wherever it was set, except on the domain given (to keep).
export const forget = (name, keep) => {
  for (const domain of domains()) {
    if (domain === keep) continue;
    document.cookie = name + '=; Max-Age=0; Path=/' + (domain ? '; Domain=' + domain : '');
  }
};

// The cookie moves when CONSENT_COOKIE_DOMAIN changes (it records the domain it was written
// on), and copies elsewhere go: one cookie, never two (W-06).
export const moveCookie = () => {
  if ((state.stored.domain || '') !== cookieDomain() || named(settings().name).length > 1) writeCookie();
};

export const writeCookie = () => {
  const { stored } = state;
  const domain = cookieDomain();
  const seconds = Math.round((stored.time + maxAgeMs() - Date.now()) / 1e3);
  stored.domain = domain;
  forget(settings().name, domain);
  document.cookie = settings().name + '=' + encodeURIComponent(JSON.stringify(stored)) +
    '; Max-Age=' + seconds + '; Path=/; SameSite=Lax' + (domain ? '; Domain=' + domain : '') +
    (location.protocol === 'https:' ? '; Secure' : '');
};

// W-05: the declared cookies of every refused purpose go ("_ga_*" is a prefix).
export const removeRefusedCookies = () => {
  const present = document.cookie.split('; ').map((pair) => pair.split('=')[0]);
  for (const purpose of state.settings.purposes) { // the cookie names only
    if (purpose.required || state.choices[purpose.key]) continue;
    for (const name of purpose.cookies) {
      const prefix = name.endsWith('*') && name.slice(0, -1);
      for (const found of present) {
        if (prefix ? found.startsWith(prefix) : found === name) forget(found);
      }
    }
  }
};
