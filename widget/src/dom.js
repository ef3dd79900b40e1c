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

// A layer's buttons in a row (W-01): --csw-fit is the width a row needs for each button to show
// the longest label on one line (a character is at most 1ch; 5ch more for padding, border and
// gap), beyond which consent.css puts them in one row, and below which in one column. Reckoned
// from the labels' lengths, not measured: no layout to wait for (it errs towards a column).
export const buttonRow = (buttons) => {
  const row = element('div', { class: 'csw-row' }, buttons);
  row.style.setProperty('--csw-fit', buttons.length *
    (5 + Math.max(...buttons.map((node) => node.textContent.length))) + 'ch');
  return row;
};

export const findAll = (selector, scope) => [...(scope || document).querySelectorAll(selector)];

// A JSON answer, or its status as the reason it failed.
export const fetchJson = (url, options) => fetch(url, options)
  .then((response) => (response.ok ? response.json() : Promise.reject(response.status)));

// A one-line reason in the console when the banner cannot do its job (no personal data).
export const warn = (reason) => console.warn('consent-server: ' + reason);

// A stylesheet for the widget's own elements, constructed (no CSP question): every browser that
// draws the banner's colours (light-dark(): Chrome 123, Firefox 120, Safari 17.5) can.
export const addStyles = (css) => {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
};

export const focusFirst = (...candidates) => {
  const target = candidates.find((node) => node && node.isConnected && !node.hidden);
  if (target) target.focus();
};

// Where the focus goes back to: the element given (callers give one or none), else the one
// that has it now.
export const focusTarget = (from) => from || document.activeElement;
