// Kept by hand in step with package.json; the bundle must not read package.json at run time.
export const VERSION = '0.1.0';
