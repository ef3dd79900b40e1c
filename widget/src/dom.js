// Building elements without HTML parsing: texts are always text nodes.

// An element with attributes (null ones left out, `onclick` set as the handler) and children.
export const element = (name, attributes, children) => {
  const node = document.createElement(name);
  for (const key in attributes) {
    const value = attributes[key];
    if (value == null) continue;
    if (key === 'onclick') node.onclick = value;
    else node.setAttribute(key, value);
  }
  for (const child of children || []) if (child != null) node.append(child);
  return node;
};

export const button = (text, onclick, className) =>
  element('button', { type: 'button', class: className, onclick }, [text]);

export const findAll = (selector, scope) => [...(scope || document).querySelectorAll(selector)];

// A JSON answer, or its status as the reason it failed.
export const fetchJson = (url, options) => fetch(url, options)
  .then((response) => (response.ok ? response.json() : Promise.reject(response.status)));

// A one-line reason in the console when the banner cannot do its job (no personal data).
export const warn = (reason) => console.warn('consent-server: ' + reason);

// A stylesheet for the widget's own elements: constructed where the browser can (no CSP
// question), else a <style> with the nonce of the widget's script.
export const addStyles = (css, nonce) => {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  } catch (error) {
    document.head.append(element('style', { nonce: nonce || null }, [css]));
  }
};

export const focusFirst = (...candidates) => {
  const target = candidates.find((node) => node && node.isConnected && !node.hidden);
  if (target) target.focus();
};

// Where the focus goes back to: the element given, else the one that has it now.
export const focusTarget = (from) => (from && from.focus ? from : document.activeElement);
