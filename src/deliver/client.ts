import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { classifyResponse, classifyTransportError, type Verdict } from './classify.js';
import type { MembersRequest } from './list-read.js';

/**
 * The ActiveCampaign v3 client: one keep-alive pool per account, the Api-Token header, a timeout per request.
 * It answers with a Verdict instead of throwing, so the caller composes retry and dead-lettering.
 */
export interface ClientOptions {
  apiUrl: string;
  apiKey: () => string;
  timeoutMs: number;
  /** Called once per request with its endpoint name, HTTP status (0 = no answer) and latency: metrics. */
  onAnswer?: (endpoint: string, status: number, latencyMs: number) => void;
  connections?: number;
}

export interface Answer<T> {
  status: number;
  verdict: Verdict;
  body: T | undefined;
  latencyMs: number;
}

export interface BulkImportAccepted {
  batchId?: string;
  queued_contacts?: number;
}

export interface ImportInfo {
  status: string | false;
  success?: string[];
  failure?: string[];
}

/** Accepts the URL as Settings → Developer shows it, with or without scheme and /api/3 (CONTRACT.md §1). */
export function normaliseApiUrl(raw: string): { origin: string; basePath: string } {
  let url = raw
    .trim()
    .replace(/\/+$/, '')
    .replace(/\/api\/3$/, '');
  if (!/^https?:\/\//i.test(url)) url = `https://${url}`;
  const parsed = new URL(url);
  return { origin: parsed.origin, basePath: `${parsed.pathname.replace(/\/+$/, '')}/api/3` };
}

export interface ContactsFound {
  contacts?: { id: string; email: string }[];
}

/** GET /contacts?listid=: one page of a list's members; meta.total is a numeric string (CONTRACT.md §3). */
export interface ContactsPage extends ContactsFound {
  meta?: { total?: string | number };
}

/** GET /contacts/{id}/contactTags: each of the contact's tags (`tag` is the tag's id) and its association id. */
export interface ContactTags {
  contactTags?: { id: string; tag: string | number }[];
}

/** GET /tags?search=: tags whose name contains the text (the caller keeps the exact match). */
export interface TagsFound {
  tags?: { id: string; tag: string }[];
}

export interface Memberships {
  /** status is a string here (CONTRACT.md §4.5); udate is when the membership was last unsubscribed. */
  contactLists?: { list: string; status: string | number; udate?: string | null }[];
}

/** What delivery needs of an account; AcClient talks to ActiveCampaign, DryRunApi only pretends to write. */
export interface AcApi {
  bulkImport(body: string): Promise<Answer<BulkImportAccepted>>;
  importInfo(batchId: string): Promise<Answer<ImportInfo>>;
  /** GET /contacts?email= (exact match, CONTRACT.md §4.3): for re-entry, the contact id. */
  findContact(email: string): Promise<Answer<ContactsFound>>;
  /** GET /contacts?listid=&status=-1 paged by id (§3, §4.3): a list's members, any status (README "Lookup cost"). */
  listMembers?(q: MembersRequest): Promise<Answer<ContactsPage>>;
  /** GET /contacts/{id}/contactLists (§4.5): whose unsubscribe it is, before a re-subscribe. */
  memberships(contactId: string): Promise<Answer<Memberships>>;
  /** POST /contactLists (§4.4): status 1 with sourceid 4 re-subscribes. */
  setListStatus(contactId: string, listId: string, status: 1 | 2, sourceid?: number): Promise<Answer<unknown>>;
  /** DELETE /contacts/{id} (README "Erasure requests"): 200 when deleted, 404 when there is no such contact. */
  deleteContact(contactId: string): Promise<Answer<unknown>>;
  /**
   * GET /contacts/{id}/contactTags, GET /tags?search=, DELETE /contactTags/{id}:
   * removing an export's tags on a leave (README "Tags on a leave").
   */
  contactTags(contactId: string): Promise<Answer<ContactTags>>;
  findTags(name: string): Promise<Answer<TagsFound>>;
  removeContactTag(contactTagId: string): Promise<Answer<unknown>>;
  getList(id: string): Promise<Answer<{ list?: { id: string; name: string } }>>;
  /** PUT /contacts/{id} with a new email (README, "Email changes"): 200, 404 unknown id, 422 the email is taken. */
  updateContactEmail?(contactId: string, email: string): Promise<Answer<unknown>>;
  fields(
    offset: number,
    limit?: number,
  ): Promise<Answer<{ fields?: { id: string; perstag: string; title: string }[]; meta?: { total?: string } }>>;
  close(): Promise<void>;
}

export class AcClient implements AcApi {
  private readonly pool: Pool;
  private readonly basePath: string;
  /**
   * Names this client, one per connection of each running instance. ActiveCampaign counts its limits per account,
   * whoever sends; the simulator attributes a Retry-After to the client it answered, so that one instance is not
   * judged for a signal another received.
   */
  private readonly userAgent = `ac-list-sync (instance ${randomBytes(4).toString('hex')})`;

  constructor(private readonly opts: ClientOptions) {
    const { origin, basePath } = normaliseApiUrl(opts.apiUrl);
    this.basePath = basePath;
    this.pool = new Pool(origin, {
      connections: opts.connections ?? 8,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  }

  bulkImport(body: string): Promise<Answer<BulkImportAccepted>> {
    return this.call('bulk_import', 'POST', '/import/bulk_import', body);
  }

  importInfo(batchId: string): Promise<Answer<ImportInfo>> {
    return this.call('import_info', 'GET', `/import/info?batchId=${encodeURIComponent(batchId)}`);
  }

  getList(id: string): Promise<Answer<{ list?: { id: string; name: string } }>> {
    return this.call('list', 'GET', `/lists/${encodeURIComponent(id)}`);
  }

  findContact(email: string): Promise<Answer<ContactsFound>> {
    return this.call('contacts', 'GET', `/contacts?email=${encodeURIComponent(email)}`);
  }

  listMembers(q: MembersRequest): Promise<Answer<ContactsPage>> {
    const after = q.order === 'asc' ? `&id_greater=${q.afterId}` : '';
    return this.call(
      'contacts_list',
      'GET',
      `/contacts?listid=${encodeURIComponent(q.listId)}&status=-1&limit=${q.limit}` +
        `&orders%5Bid%5D=${q.order.toUpperCase()}${after}`,
    );
  }

  memberships(contactId: string): Promise<Answer<Memberships>> {
    return this.call('contact_lists', 'GET', `/contacts/${encodeURIComponent(contactId)}/contactLists`);
  }

  setListStatus(contactId: string, listId: string, status: 1 | 2, sourceid?: number): Promise<Answer<unknown>> {
    const contactList: Record<string, string | number> = { list: listId, contact: contactId, status: String(status) };
    if (sourceid !== undefined) contactList.sourceid = sourceid;
    return this.call('contact_list', 'POST', '/contactLists', JSON.stringify({ contactList }));
  }

  deleteContact(contactId: string): Promise<Answer<unknown>> {
    return this.call('contact_delete', 'DELETE', `/contacts/${encodeURIComponent(contactId)}`);
  }

  updateContactEmail(contactId: string, email: string): Promise<Answer<unknown>> {
    return this.call(
      'contact',
      'PUT',
      `/contacts/${encodeURIComponent(contactId)}`,
      JSON.stringify({ contact: { email } }),
    );
  }

  contactTags(contactId: string): Promise<Answer<ContactTags>> {
    return this.call('contact_tags', 'GET', `/contacts/${encodeURIComponent(contactId)}/contactTags`);
  }

  findTags(name: string): Promise<Answer<TagsFound>> {
    return this.call('tags', 'GET', `/tags?search=${encodeURIComponent(name)}&limit=100`);
  }

  removeContactTag(contactTagId: string): Promise<Answer<unknown>> {
    return this.call('contact_tag', 'DELETE', `/contactTags/${encodeURIComponent(contactTagId)}`);
  }

  fields(
    offset: number,
    limit = 100,
  ): Promise<Answer<{ fields?: { id: string; perstag: string; title: string }[]; meta?: { total?: string } }>> {
    return this.call('fields', 'GET', `/fields?limit=${limit}&offset=${offset}`);
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => undefined);
  }

  private async call<T>(
    endpoint: string,
    method: 'GET' | 'POST' | 'DELETE' | 'PUT',
    path: string,
    body?: string,
  ): Promise<Answer<T>> {
    const answer = await this.send<T>(method, path, body);
    this.opts.onAnswer?.(endpoint, answer.status, answer.latencyMs);
    return answer;
  }

  private async send<T>(method: 'GET' | 'POST' | 'DELETE' | 'PUT', path: string, body?: string): Promise<Answer<T>> {
    const started = performance.now();
    try {
      const res = await this.pool.request({
        method,
        path: this.basePath + path,
        headers: {
          'user-agent': this.userAgent,
          'api-token': this.opts.apiKey(),
          'content-type': 'application/json',
          accept: 'application/json',
        },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      const text = await res.body.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      const retryAfter = res.headers['retry-after'];
      const verdict = classifyResponse(
        res.statusCode,
        parsed,
        Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        Date.now(),
      );
      return { status: res.statusCode, verdict, body: parsed as T | undefined, latencyMs: performance.now() - started };
    } catch (err) {
      return {
        status: 0,
        verdict: classifyTransportError(err),
        body: undefined,
        latencyMs: performance.now() - started,
      };
    }
  }
}
