import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export type { ParsedMail };

export interface SmtpReceiver {
  /** smtp://127.0.0.1:PORT, ready to hand to createMailer as smtpUrl. */
  url: string;
  /** Every message received so far, in arrival order. */
  messages: ParsedMail[];
  /** The first received or future message matching `predicate`; rejects after `timeoutMs` with what did arrive. */
  waitFor(predicate: (mail: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>;
  /** The http(s) links of a message's text and HTML parts (HTML entities decoded), without duplicates. */
  linksIn(mail: ParsedMail): string[];
  /**
   * While refusing, new connections get 421 and messages on open ones 451 (service not available), as an outage
   * answers.
   */
  setRefusing(refusing: boolean): void;
  /** Connections turned away while refusing. */
  refused: number;
  close(): Promise<void>;
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, name: string) => {
    if (name[0] === '#') return String.fromCodePoint(name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1)));
    return entities[name.toLowerCase()] ?? whole;
  });
}

/** The http(s) links in a parsed message: URLs in the text part and href values in the HTML part. */
export function linksIn(mail: ParsedMail): string[] {
  const fromText = mail.text?.match(/https?:\/\/[^\s<>"]+/g) ?? [];
  const html = typeof mail.html === 'string' ? mail.html : '';
  const fromHtml = [...html.matchAll(/href\s*=\s*"([^"]*)"/gi)].map((match) => decodeEntities(match[1]!)).filter((href) => /^https?:\/\//.test(href));
  return [...new Set([...fromText, ...fromHtml])];
}

/** An in-process SMTP server on loopback (no TLS, no auth) that parses and keeps every message it receives. */
export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const messages: ParsedMail[] = [];
  const arrivals = new EventEmitter();
  const state = { refusing: false, refused: 0 };
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    // A pooled client may keep its connection open; close() should not wait the default 30 s for it.
    closeTimeout: 200,
    onConnect(_session, callback) {
      if (!state.refusing) return callback();
      state.refused += 1;
      callback(Object.assign(new Error('service not available (test outage)'), { responseCode: 421 }));
    },
    // A pooled client keeps its connection: refuse each message on it too (a temporary failure, 451).
    onMailFrom(_address, _session, callback) {
      if (!state.refusing) return callback();
      state.refused += 1;
      callback(Object.assign(new Error('service not available (test outage)'), { responseCode: 451 }));
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        messages.push(mail);
        arrivals.emit('message', mail);
        callback();
      }, (error: Error) => callback(error));
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}`,
    setRefusing(refusing) { state.refusing = refusing; },
    get refused() { return state.refused; },
    messages,
    linksIn,
    waitFor(predicate, timeoutMs = 10_000) {
      const existing = messages.find(predicate);
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve, reject) => {
        const onMessage = (mail: ParsedMail) => {
          if (!predicate(mail)) return;
          clearTimeout(timer);
          arrivals.off('message', onMessage);
          resolve(mail);
        };
        const timer = setTimeout(() => {
          arrivals.off('message', onMessage);
          reject(new Error(`no matching email within ${timeoutMs} ms; received: ${JSON.stringify(messages.map((m) => m.subject))}`));
        }, timeoutMs);
        arrivals.on('message', onMessage);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
