import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AuthManagerOptions } from '../../src/index.js';

const MAIN = fileURLToPath(new URL('./instance-main.ts', import.meta.url));

export interface InstanceConfig {
  dbDsn: string;
  dbSchema: string;
  jwtSecret: string;
  rateLimit?: AuthManagerOptions['rateLimit'];
  bcryptRounds?: number;
}

export interface InstanceProcess {
  name: string;
  port: number;
  pid: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  child: ChildProcess;
  /** Everything the child wrote so far (for failure messages). */
  output(): string;
  /** Whether the child has exited. */
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts an app with its own AuthManager in a child process (`node --import tsx instance-main.ts`)
 * and resolves once it listens (it prints `{"port": N}`). Rejects, with the child's output, when it
 * exits or does not get ready within `timeoutMs`.
 */
export function startInstance(name: string, config: InstanceConfig, timeoutMs = 30_000): Promise<InstanceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { ...process.env, AUTHLIB_INSTANCE_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let exitedFlag = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exitedFlag = true;
      resolve();
    });
    child.once('error', () => {
      exitedFlag = true;
      resolve();
    });
  });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (err += d));

  const instance = {
    name,
    child,
    output: () => `--- ${name} stdout ---\n${out}\n--- ${name} stderr ---\n${err}`,
    exited: () => exitedFlag,
    async stop(graceMs = 5000) {
      if (exitedFlag) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };

  return new Promise<InstanceProcess>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`instance ${name} not ready within ${timeoutMs} ms\n${instance.output()}`));
    }, timeoutMs);
    child.stdout.on('data', (d: string) => {
      out += d;
      if (done) return;
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        let msg: { port?: number; pid?: number; error?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (typeof msg.port === 'number' && msg.port > 0) {
          done = true;
          clearTimeout(timer);
          resolve({ ...instance, port: msg.port, pid: msg.pid ?? child.pid!, url: `http://127.0.0.1:${msg.port}` });
          return;
        }
      }
    });
    void exit.then(() => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`instance ${name} exited before listening (code ${child.exitCode})\n${instance.output()}`));
    });
  });
}
