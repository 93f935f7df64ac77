import * as path from 'path';
/** The extension's folder (tests run compiled from out/test/unit). */
export const EXTENSION_ROOT = path.resolve(__dirname, '..', '..', '..');
export const PROTOCOL_MD = path.resolve(EXTENSION_ROOT, '..', '..', 'protocol', 'PROTOCOL.md');
