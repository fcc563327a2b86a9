import { createInterface } from 'node:readline';
import { UsageError } from './context.js';

/** First line of standard input; undefined when it is empty. */
async function firstLine(): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return undefined;
}

/**
 * Asks on the terminal without echoing what is typed. Ctrl-D (end of input) or Ctrl-C before an
 * answer rejects with a message, instead of leaving a promise that never settles (exit 13).
 */
function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    let answered = false;
    // Echo nothing but the question itself.
    const write = rl as unknown as { _writeToOutput: (s: string) => void };
    write._writeToOutput = (s: string) => {
      if (s.includes(question)) process.stdout.write(question);
    };
    const cancel = (how: string) => {
      if (answered) return;
      answered = true;
      process.stdout.write('\n');
      rl.close();
      reject(new Error(`no password given (${how} at the prompt); nothing was changed`));
    };
    rl.on('close', () => cancel('end of input'));
    rl.on('SIGINT', () => cancel('interrupted'));
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
  });
}

/** A password: from stdin with --password-stdin, else a hidden prompt (asked twice) on a terminal. */
export async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) {
    const line = await firstLine();
    if (line === undefined) throw new UsageError('--password-stdin: standard input is empty; pipe the password in');
    return line.replace(/\r$/, '');
  }
  if (!process.stdin.isTTY) throw new UsageError('no terminal to ask for the password: pass --password-stdin and pipe it in');
  const first = await prompt('Password: ');
  const second = await prompt('Repeat password: ');
  if (first !== second) throw new UsageError('the passwords do not match');
  return first;
}
