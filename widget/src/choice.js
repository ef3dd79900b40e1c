// Making and applying a choice: the cookie, the ledger, the tags, held-back content, listeners.
import { activate } from './blocking.js';
import { removeRefusedCookies, writeCookie } from './cookie.js';
import { flush, queueChoice } from './ledger.js';
import { sendUpdate } from './signals.js';
import { hide } from './layers.js';
import { state } from './state.js';

const listeners = [];
export const onChange = (listener) => listeners.push(listener);

// first: the stored choice applied as a page starts (nobody is told of a change).
export const apply = (first) => {
  sendUpdate(state.choices);
  activate();
  removeRefusedCookies();
  if (first) return;
  const detail = { ...state.choices };
  for (const listener of listeners) {
    try {
      listener(detail);
    } catch (error) {
      setTimeout(() => { throw error; }); // a site's listener does not stop the others
    }
  }
  document.dispatchEvent(new CustomEvent('consent:change', { detail }));
};

// Every purpose on or off; under GPC, "all" leaves marketing off (W-09).
export const everything = (on) => {
  const choices = {};
  for (const { key } of state.config.purposes) choices[key] = on && !(state.gpc && key === 'marketing');
  return choices;
};

// C-07: source names where the choice was made (banner, preferences, api).
export const choose = (wanted, source) => {
  const { config } = state;
  state.choices = { necessary: true };
  for (const { key, required } of config.purposes) if (!required) state.choices[key] = !!wanted[key];
  state.stored = { id: state.stored && state.stored.id, choices: state.choices,
    version: config.policy_version, time: Date.now(), gpc: state.gpc };
  writeCookie();
  queueChoice(state.choices, source);
  hide();
  apply();
  flush();
};
