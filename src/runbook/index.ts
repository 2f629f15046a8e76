/** Recovery runbooks (issue 6): load, check, plan, run, sandbox, boot. */
export { parseRunbook, loadRunbook, type Runbook, type LoadOptions } from './load.js';
export { runbookSchema, RUNBOOK_SCHEMA_ID } from './schema.js';
export { validate, checkSchemaKeywords, type JsonSchema, type SchemaError } from './validate.js';
export { STEP_KINDS, planStep, checkStep, stepLabel, type StepKindName, type RunbookStep, type PlannedStep, type StepChange, type StepContext } from './steps.js';
export { checkRunbook, planRunbook, runRunbook, formatReport, type RunbookReport, type StepReport, type StepStatus, type RunbookTarget } from './runner.js';
export { planWriteFile, WRITE_BACKUP_SUFFIX, type WriteFileOptions } from './write-file.js';
export { planSshKey, keyIdentity, checkSshKey, type SshKeyOptions } from './ssh-key.js';
export { applyFilePlan, type FilePlan, type MetaChange } from './file-plan.js';
export { resolveWithinTarget, type ResolvedTargetPath } from './target-path.js';
export { runRunbookInSandbox, formatSandboxChanges, type SandboxRun, type SandboxFileChange } from './sandbox-run.js';
