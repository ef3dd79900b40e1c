// What every module shares (filled in by start.js):
//   settings: CONSENT_SETTINGS, the first layer's config the server put before this script;
//   config: the config in the page's language (the settings, or /api/v1/config);
//   choices: the choice in force, {necessary: true, analytics, marketing}, or none;
//   stored: the cookie's value, {id, choices, version, time, gpc};
//   gpc: the browser sends Global Privacy Control (W-09);
//   api: the URL of /api/v1/ on the consent server; script: the <script> that loaded us.
export const state = {};
