// What some pages ask of the widget beside the banner, in the second file: a sign-up form's
// hidden fields, and the floating button out of the way while the page scrolls. The banner
// loads the second file on such a page (start.js), and after every choice to send it (ledger.js);
// either way these start once, with the first flush.
import { flush as send } from './ledger.js';

let started = false;

const extras = (state) => {
  // A sign-up form (data-consent-signup; README, "Sign-up form") sends this device's consent
  // id, the page's language and the notice version the banner showed, filled in as it is sent.
  addEventListener('submit', ({ target }) => {
    const fields = target.elements;
    if (!target.matches('[data-consent-signup]') || !state.config) return;
    for (const [name, value] of [['consent_id', state.stored && state.stored.id],
      ['language', state.config.language], ['policy_version', state.config.policy_version]]) {
      if (fields[name] && value) fields[name].value = value;
    }
  });
  // data-button="scroll" on the tag: the floating button leaves the page's words while it
  // scrolls, and comes back when it stops; not while it has the keyboard's focus, which
  // a hidden button would lose.
  let timer;
  if (state.script.dataset.button === 'scroll') {
    addEventListener('scroll', () => {
      const fab = document.querySelector('.csw-fab');
      if (!fab || fab.matches(':focus-visible')) return;
      fab.style.visibility = 'hidden';
      clearTimeout(timer);
      timer = setTimeout(() => { fab.style.visibility = ''; }, 600);
    }, { passive: true });
  }
};

// The ledger's sender (ledger.js), which starts the extras the first time it is called.
export const flush = (core) => {
  if (!started) extras(core.state);
  started = true;
  send(core);
};
