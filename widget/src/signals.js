// What the tags on the page are told: Google Consent Mode v2 (W-08), Microsoft UET consent
// mode and Microsoft Clarity's consent API, all from the one purpose map the server sends.
import { state } from './state.js';

const gtag = function () {
  (window.dataLayer = window.dataLayer || []).push(arguments);
};

// Every Consent Mode type the purposes map, and personalization_storage, which none grants.
export const consentModeSignals = (choices) => {
  const signals = { personalization_storage: 'denied' };
  const map = state.settings.consent_mode;
  for (const purpose in map) {
    for (const type of map[purpose]) signals[type] = choices[purpose] ? 'granted' : 'denied';
  }
  return signals;
};

// Clarity's queue exists once its snippet ran (often as a held-back script itself). The map
// always has ad_storage and analytics_storage: the purposes are the catalog's (purposes.py).
export const tellClarity = (signals) => {
  if (typeof window.clarity === 'function') {
    window.clarity('consentv2', { ad_Storage: signals.ad_storage,
      analytics_Storage: signals.analytics_storage });
  }
};

// Google's Consent Mode and Microsoft UET's, told the same (command: default or update).
const tell = (command, signals) => {
  gtag('consent', command, signals);
  (window.uetq = window.uetq || []).push('consent', command, { ad_storage: signals.ad_storage });
};

// Before any update: every optional signal denied until the visitor chooses.
export const sendDefaults = () =>
  tell('default', { ...consentModeSignals({ necessary: true }), wait_for_update: 500 });

export const sendUpdate = (choices) => {
  const signals = consentModeSignals(choices);
  tell('update', signals);
  tellClarity(signals);
};
