/** The compiler's version, stamped into generated artefacts. Keep in step with package.json. */
export const VERSION = '0.1.0';
