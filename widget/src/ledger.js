// Every choice is sent to the server's ledger (W-07); one that fails waits in localStorage
// (or in memory where the page may not use it) and is sent again on the next page, with the
// same event id, so a retry never records it twice.
import { fetchJson } from './dom.js';
import { keepId, state } from './state.js';

const PENDING = 'consent-server:pending';
const RECEIPT = 'consent-server:receipt';
let inMemory = [];
let sending = false;

const pending = () => {
  try {
    return JSON.parse(localStorage.getItem(PENDING)) || [];
  } catch (error) {
    return inMemory;
  }
};

const keep = (events) => {
  inMemory = events;
  try {
    if (events.length) localStorage.setItem(PENDING, JSON.stringify(events));
    else localStorage.removeItem(PENDING);
  } catch (error) { /* kept in memory */ }
};

// The signed receipt (JWS) of the last recorded choice, for the visitor to keep.
const keepReceipt = (receipt) => {
  try {
    if (receipt) localStorage.setItem(RECEIPT, receipt);
  } catch (error) { /* only the server keeps it then */ }
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

// A refused event (4xx but 429) never succeeds: it is dropped, not retried.
const refused = (status) => status >= 400 && status < 500 && status !== 429;

// Called only with a stored choice (events wait only after one).
export const flush = () => {
  const events = pending();
  if (sending || !events.length) return;
  sending = true;
  const { stored } = state;
  const event = events[0];
  if (!event.consent_id && stored.id) event.consent_id = stored.id;
  // Where the cookie lives on a shared domain (CONSENT_COOKIE_DOMAIN), the server sets it too:
  // its answer must carry cookies.
  fetchJson(new URL('consents', state.api), {
    method: 'POST', keepalive: true, body: JSON.stringify(event),
    headers: { 'Content-Type': 'text/plain' },
    credentials: stored.domain ? 'include' : 'same-origin',
  })
    .then((record) => {
      keepReceipt(record.receipt);
      keepId(record.consent_id);
      return true;
    }, refused)
    .then((done) => {
      sending = false;
      if (!done) return;
      keep(pending().filter((e) => e.event_id !== event.event_id));
      flush();
    });
};
