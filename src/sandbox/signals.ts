/**
 * While a handler is registered, SIGINT, SIGTERM, SIGHUP and SIGQUIT no longer
 * end rdrescue (Node's default) but go to the handler, so the sandbox can be
 * told first and its temporary tree removed afterwards. Returns the release
 * function; handlers stack, the newest one gets the signal.
 */
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
const stack: Array<(sig: NodeJS.Signals) => void> = [];

function dispatch(sig: NodeJS.Signals): void {
  stack[stack.length - 1]?.(sig);
}

export function onTerminatingSignal(handler: (sig: NodeJS.Signals) => void): () => void {
  if (stack.length === 0) for (const s of SIGNALS) process.on(s, dispatch);
  stack.push(handler);
  return () => {
    const i = stack.lastIndexOf(handler);
    if (i >= 0) stack.splice(i, 1);
    if (stack.length === 0) for (const s of SIGNALS) process.off(s, dispatch);
  };
}
