// tsc emits only JavaScript: the message catalogues travel beside the compiled i18n module.
import { cpSync } from 'node:fs';

cpSync('src/i18n/locales', 'build/src/i18n/locales', { recursive: true });
