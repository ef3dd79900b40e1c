// The settings layer (A-01, C-05): a modal dialog with one switch per purpose, its cookies,
// the visitor's consent id and the date of the choice. Loaded by layers.js as an ES module
// (/widget-settings.js, the second file) while the first layer is read, or when first wanted;
// the banner hands it its state and its choice-making, and gets the functions that open the
// layer and cover a refused iframe.

import { addStyles, button, buttonRow, element, findAll } from './dom.js';

// The second file also sends the queued choices to the ledger (not needed to show the banner).
// With it, once, what some pages ask for beside the banner (extras.js).
export { flush } from './extras.js';

// The stylesheet (built from src/settings.css), given by the build; the full config in the
// page's language (every text, the purposes' descriptions and cookies), which the server puts
// before this module as `const CONSENT_CONFIG=<json>;` (consent_server/web/widget.py).
const CSS = CONSENT_SETTINGS_CSS;
const config = CONSENT_CONFIG;
const DATE = { day: 'numeric', month: 'long', year: 'numeric' };

export default (core) => {
  const { state } = core;
  const { texts } = config;
  addStyles(CSS);
  const privacyLink = () => element('a', { href: config.privacy_url }, [texts.privacy_link]);
  let dialog;

  // The visitor's consent id and the date of the choice, to quote to the company.
  const record = () => {
    const { stored } = state;
    if (!stored || !stored.id || !state.choices) return null;
    // nb-NO for nynorsk too: the same date and month names, and browsers' ICU may lack nn-NO.
    const date = new Date(stored.time).toLocaleDateString(config.language === 'en' ? 'en-GB' : 'nb-NO', DATE);
    return element('p', { class: 'csw-id' }, [texts.consent_id + ': ', element('code', 0, [stored.id]),
      element('br'), texts.consent_date + ': ' + date]);
  };

  const purposeRow = (purpose, switches) => {
    const id = 'csw-' + purpose.key;
    const on = purpose.required || (state.choices && state.choices[purpose.key]);
    const toggle = switches[purpose.key] = element('input', { type: 'checkbox', role: 'switch', id,
      'aria-describedby': id + '-d', checked: on ? '' : null, disabled: purpose.required ? '' : null });
    return element('div', { class: 'csw-p' }, [
      element('div', { class: 'csw-pr' }, [toggle, element('label', { for: id }, [purpose.name]),
        purpose.required ? element('span', 0, [texts.always_on]) : null]),
      element('p', { id: id + '-d' }, [purpose.description]),
      purpose.cookies.length ? element('ul', 0, purpose.cookies.map((cookie) => element('li', 0, [
        element('code', 0, [cookie.name]),
        ` ${cookie.provider}, ${cookie.lifetime}: ${cookie.description}`]))) : null,
    ]);
  };

  const coverOf = (frame) => {
    const cover = frame.previousElementSibling;
    return cover && cover.classList.contains('csw-ph') ? cover : null;
  };

  // Laid over a refused iframe, in its box (nothing on the page moves): what it needs, and the
  // way to the settings (W-04); not when a choice allowed it meanwhile (blocking.js).
  const placeholder = (frame) => {
    if (core.allowed(frame) || coverOf(frame)) return;
    const box = element('div', { class: 'csw csw-ph' }, [
      element('p', 0, [texts.placeholder]),
      button(texts.settings, () => core.openSettings()),
    ]);
    box.style.width = frame.offsetWidth + 'px';
    box.style.height = frame.offsetHeight + 'px';
    frame.before(box);
  };

  // A choice made anywhere (here, on the first layer, ConsentServer.acceptAll()) closes the
  // dialog and takes the covers off the iframes it allows.
  document.addEventListener('consent:change', () => {
    if (dialog) dialog.close();
    for (const frame of findAll('iframe[data-consent]')) {
      if (core.allowed(frame) && coverOf(frame)) coverOf(frame).remove();
    }
  });

  // refocus: puts the focus back where it was when the dialog closes.
  const open = (refocus) => {
    if (dialog) dialog.parentNode.remove();
    const switches = {};
    const save = () => {
      const wanted = {};
      for (const key in switches) wanted[key] = switches[key].checked;
      core.choose(wanted, 'preferences');
    };
    const shown = dialog = element('dialog', { class: 'csw-d', 'aria-modal': 'true', 'aria-labelledby': 'csw-st' }, [
      element('h2', { id: 'csw-st' }, [texts.settings_title]),
      element('p', 0, [privacyLink()]),
      state.gpc ? element('p', 0, [texts.gpc]) : null,
      ...config.purposes.map((purpose) => purposeRow(purpose, switches)),
      record(),
      buttonRow([button(texts.save, save),
        button(texts[state.gpc ? 'accept_gpc' : 'accept_all'], core.all(true, 'preferences')),
        button(texts.reject_all, core.all(false, 'preferences')),
        button(texts.close, () => shown.close())]),
    ]);
    // Tab and Shift-Tab stay inside; A-03: Escape closes without saving (the dialog's own).
    dialog.onkeydown = (event) => {
      if (event.key !== 'Tab') return;
      const stops = findAll('a,button,input:not([disabled])', dialog);
      const at = stops.indexOf(document.activeElement);
      if (event.shiftKey ? at <= 0 : at === stops.length - 1) {
        event.preventDefault();
        stops[event.shiftKey ? stops.length - 1 : 0].focus();
      }
    };
    dialog.onclose = () => {
      shown.parentNode.remove();
      refocus();
    };
    core.root(false).append(dialog);
    dialog.showModal();
    findAll('input:not([disabled])', dialog)[0].focus();
  };
  return [open, placeholder];
};
