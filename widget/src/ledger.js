// Sending the queued choices to the server's ledger (W-07), one at a time, the oldest first. It
// is in the second file (settings.js exports it), which a first visit does not need before the
// banner is usable: the choice is queued and applied at once (queue.js), and sent once this file
// is there (preloaded while the first layer is read). It imports nothing that keeps state: that
// would be a second copy; the banner hands it its own (start.js).
import { fetchJson } from './dom.js';

const RECEIPT = 'consent-server:receipt';
let sending = false;

// The signed receipt (JWS) of the last recorded choice, for the visitor to keep.
const keepReceipt = (receipt) => {
  try {
    if (receipt) localStorage.setItem(RECEIPT, receipt);
  } catch (error) { /* only the server keeps it then */ }
};

// A refused event (4xx but 429) never succeeds: it is dropped, not retried.
const refused = (status) => status >= 400 && status < 500 && status !== 429;

// core: the banner's state, keepId (state.js), pending and keep (queue.js). Called with a stored
// choice (events wait only after one), or on a page that asks for the extras (extras.js), where
// nothing may wait: then it sends nothing.
export const flush = (core) => {
  const { state, keepId, pending, keep } = core;
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
      flush(core);
    });
};
