// The choices waiting for the ledger (W-07): each choice is queued here as it is made, in
// localStorage (or in memory where the page may not use it), and the second file's sender
// (ledger.js) takes it from here; one that fails waits for the next page, with the same event
// id, so a retry never records it twice.
import { state } from './state.js';

const PENDING = 'consent-server:pending';
let inMemory = [];

export const pending = () => {
  try {
    return JSON.parse(localStorage.getItem(PENDING)) || [];
  } catch (error) {
    return inMemory;
  }
};

export const keep = (events) => {
  inMemory = events;
  try {
    if (events.length) localStorage.setItem(PENDING, JSON.stringify(events));
    else localStorage.removeItem(PENDING);
  } catch (error) { /* kept in memory */ }
};

// A version 4 UUID, random, made by the browser for a blob URL (crypto.randomUUID exists only in
// secure contexts; this works in every page).
const uuid = () => URL.createObjectURL(new Blob()).slice(-36);

export const queueChoice = (source) => {
  const { choices, config, stored } = state;
  const optional = { ...choices };
  delete optional.necessary;
  keep(pending().concat({ consent_id: stored.id || undefined, event_id: uuid(),
    choices: optional, policy_version: config.policy_version, language: config.language,
    source, gpc: state.gpc }));
};
