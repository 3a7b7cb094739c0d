/**
 * The hook's exit codes (hooks/README.md), apart so the fence verdict and the run share them:
 * 0 published or spooled; 2 invalid input; 3 fence not confirmed under fail-closed; 1 internal error.
 */
export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_INVALID = 2;
export const EXIT_FENCE_VETO = 3;
