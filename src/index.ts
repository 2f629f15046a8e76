export * from './elf/elf.js';
export * from './elf/ldcache.js';
export * from './elf/rootfs.js';
export * from './elf/closure.js';
export * from './elf/tree.js';
export * from './elf/mkroot.js';
export * from './sandbox/sandbox.js';
export * from './rescue/index.js';
