// Cookies: the one place they are read and written (W-06), given their settings by the caller.

// The domain the consent cookie lives on: the configured one when this page is under it, else
// none (a host-only cookie).
export const cookieDomain = ({ domain }) => {
  const host = location.hostname;
  return domain && (host === domain || host.endsWith('.' + domain)) ? domain : '';
};

// Every copy of the consent cookie (another domain's too, left by an earlier setting), the
// latest choice first, or none where cookies cannot be read (a sandboxed iframe).
export const readCookie = ({ name }) => {
  try {
    return document.cookie.split('; ').filter((pair) => pair.startsWith(name + '='))
      .map((pair) => JSON.parse(decodeURIComponent(pair.slice(name.length + 1))))
      .sort((a, b) => b.time - a.time);
  } catch (error) {
    return [];
  }
};

// The one writer: a negative Max-Age removes (js-cookie's `remove` is its `set`, expired).
export const setCookie = (name, value, seconds, domain) => {
  document.cookie = name + '=' + value + '; Max-Age=' + seconds + '; Path=/; SameSite=Lax' +
    (domain ? '; Domain=' + domain : '') + (location.protocol === 'https:' ? '; Secure' : '');
};

// Every domain a cookie of this page may have been set on: host-only (''), then each parent.
const domains = () => {
  const labels = location.hostname.split('.');
  return [''].concat(labels.slice(0, -1).map((_, i) => labels.slice(i).join('.')));
};

// Remove a cookie wherever it was set, except on the domain given (to keep).
export const removeCookie = (name, keep) => {
  for (const domain of domains()) if (domain !== keep) setCookie(name, '', -1, domain);
};

// W-05: the declared cookies of every refused purpose go ("_ga_*" is a prefix).
export const removeRefusedCookies = (purposes, choices) => {
  const present = document.cookie.split('; ').map((pair) => pair.split('=')[0]);
  for (const purpose of purposes) { // the cookie names only
    if (purpose.required || choices[purpose.key]) continue;
    for (const name of purpose.cookies) {
      const prefix = name.endsWith('*') && name.slice(0, -1);
      for (const found of present) {
        if (prefix ? found.startsWith(prefix) : found === name) removeCookie(found);
      }
    }
  }
};
