export { checkImage, type CheckOptions, type CheckReport } from './check.js';
export { formatCheck } from './report.js';
export type { Finding, FindingLevel } from './findings.js';
export { readImageFacts, type ImageFacts } from './image-facts.js';
export { kernelFacts, versionFromImageName, type KernelFacts } from './kernel.js';
export { rootNeeds, type RootNeeds } from './target-needs.js';
export { chooseImage, compareVersions } from './image-choice.js';
