import { createInterface } from 'node:readline';
import { UsageError } from './context.js';

/** First line of standard input. */
async function firstLine(): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}

/** Asks on the terminal without echoing what is typed. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    // Echo nothing but the question itself.
    const write = (rl as unknown as { _writeToOutput: (s: string) => void });
    write._writeToOutput = (s: string) => {
      if (s.includes(question)) process.stdout.write(question);
    };
    rl.question(question, (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
  });
}

/** The new user's password: from stdin with --password-stdin, else a hidden prompt on a terminal. */
export async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) return (await firstLine()).replace(/\r$/, '');
  if (!process.stdin.isTTY) throw new UsageError('no terminal to ask for the password: pass --password-stdin and pipe it in');
  const first = await prompt('Password: ');
  const second = await prompt('Repeat password: ');
  if (first !== second) throw new UsageError('the passwords do not match');
  return first;
}
