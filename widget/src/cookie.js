// Cookies: the one place they are read and written (W-06), given their settings by the caller.

// The domain the consent cookie lives on: the configured one when this page is under it, else
// none (a host-only cookie).
export const cookieDomain = ({ domain }) => {
  const host = location.hostname;
  return domain && (host === domain || host.endsWith('.' + domain)) ? domain : '';
};

// The consent cookie's values, an answer to come: from the browser's cookie store where it has
// one (secure pages), which answers without holding the page's main thread as document.cookie
// does while the browser looks; elsewhere none, and readCookie reads document.cookie.
export const cookieValues = ({ name }) => window.cookieStore &&
  cookieStore.getAll(name).then((found) => found.map((cookie) => cookie.value), () => []);

// Every copy of the consent cookie (another domain's too, left by an earlier setting), the
// latest choice first, or none where cookies cannot be read (a sandboxed iframe). values: its
// values as cookieValues gave them, else they are read from document.cookie.
export const readCookie = ({ name }, values) => {
  try {
    return (values || document.cookie.split('; ').filter((pair) => pair.startsWith(name + '='))
      .map((pair) => pair.slice(name.length + 1)))
      .map((value) => JSON.parse(decodeURIComponent(value))).sort((a, b) => b.time - a.time);
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

// W-05: the declared cookies of every refused purpose go ("_ga_*" is a prefix). The page's
// cookies are read once, and only for a refused purpose (nothing refused: no round trip to the
// browser).
export const removeRefusedCookies = (purposes, choices) => {
  let present;
  for (const purpose of purposes) { // the cookie names only
    if (purpose.required || choices[purpose.key]) continue;
    present = present || document.cookie.split('; ').map((pair) => pair.split('=')[0]);
    for (const name of purpose.cookies) {
      const prefix = name.endsWith('*') && name.slice(0, -1);
      for (const found of present) {
        if (prefix ? found.startsWith(prefix) : found === name) removeCookie(found);
      }
    }
  }
};
