/** Sends account mail (OTP, reset, verification). Only the account-lifecycle endpoints use it. */
export interface Mailer {
  send(message: { to: string; subject: string; text: string; html?: string }): Promise<void>;
}
