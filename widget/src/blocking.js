// Held-back content (W-04): <script type="text/plain" data-consent="analytics"> and
// <iframe data-consent="marketing" data-src>, run or loaded once their purposes are granted.
import { findAll } from './dom.js';
import { consentModeSignals, tellClarity } from './signals.js';
import { state } from './state.js';

const purposesOf = (node) => node.dataset.consent.split(/[\s,]+/);
export const allowed = (node) => purposesOf(node)
  .every((key) => state.choices && state.choices[key]);

// A held-back script becomes a real one with the same attributes (its nonce too).
const runScript = (held, next) => {
  const script = document.createElement('script');
  for (const { name, value } of held.attributes) {
    if (!/^(type|data-src|data-type|nonce)$/.test(name)) script.setAttribute(name, value);
  }
  if (held.dataset.type) script.type = held.dataset.type;
  script.nonce = held.nonce;
  const src = held.dataset.src || held.getAttribute('src');
  if (src) {
    script.src = src;
    script.async = false;
    script.onload = script.onerror = next;
  } else {
    script.text = held.text;
  }
  held.replaceWith(script);
  if (!src) next();
};

// placeholder(): a promise of the function that covers a refused iframe (the second file's:
// settings.js, which also takes the cover away once a choice allows the iframe), or of nothing
// when it could not be loaded. Gives activate(), which runs what the choice in force allows.
export const blocking = (placeholder) => {
  const showFrame = (frame) => {
    const src = frame.getAttribute('src');
    if (allowed(frame)) {
      if (frame.dataset.src && src !== frame.dataset.src) frame.src = frame.dataset.src;
    } else {
      if (src && src !== 'about:blank') frame.src = 'about:blank';
      // Covered when the second file is there (not needed to show the banner).
      if (state.config) placeholder().then((cover) => cover && cover(frame));
    }
  };

  let running = false;
  let runAgain = false;

  // Held-back elements run once, in document order: an external script is awaited before the
  // next one, as the page would have run them.
  const activate = () => {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', activate, { once: true });
      return;
    }
    if (running) {
      runAgain = true;
      return;
    }
    running = true;
    const queue = findAll('script[type="text/plain"][data-consent],iframe[data-consent]');
    const next = () => {
      const node = queue.shift();
      if (!node) {
        running = false;
        if (state.choices) tellClarity(consentModeSignals(state.choices)); // a tag that just ran
        if (runAgain) {
          runAgain = false;
          activate();
        }
        return;
      }
      if (!node.isConnected) next();
      else if (node.tagName === 'IFRAME') {
        showFrame(node);
        next();
      } else if (allowed(node)) runScript(node, next);
      else next();
    };
    next();
  };
  return activate;
};
