// consent-server banner (MIT). The server serves this bundle after a prefix that declares
// CONSENT_SETTINGS, the config in one language (consent_server/web/widget.py).
import { start } from './start.js';

if (globalThis.document) start(CONSENT_SETTINGS);
