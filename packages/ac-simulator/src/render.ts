import type { ContactRecord, FieldRecord, ListRecord, Membership } from './store.js';
import type { ContactTagRecord, TagRecord } from './tag-store.js';

/**
 * Resources as ActiveCampaign v3 serialises them (openapi-subset.json): ids and most scalars are strings, nulls
 * where the published examples have nulls. Only the properties a client could plausibly read are filled in.
 */
function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function utcTimestamp(acDate: string): string {
  return acDate.slice(0, 19).replace('T', ' ');
}

export function renderContact(c: ContactRecord, api: string): Record<string, unknown> {
  const [local = '', domain = ''] = c.email.split('@');
  return {
    cdate: c.cdate,
    email: c.email,
    phone: c.phone,
    firstName: c.firstName,
    lastName: c.lastName,
    orgid: '0',
    orgname: '',
    segmentio_id: '',
    bounced_hard: '0',
    bounced_soft: '0',
    bounced_date: null,
    ip: '0',
    ua: null,
    hash: '',
    socialdata_lastcheck: null,
    email_local: local,
    email_domain: domain,
    sentcnt: '0',
    rating_tstamp: null,
    gravatar: '0',
    deleted: '0',
    anonymized: '0',
    adate: null,
    udate: c.udate,
    edate: null,
    deleted_at: null,
    created_utc_timestamp: utcTimestamp(c.cdate),
    updated_utc_timestamp: utcTimestamp(c.udate),
    email_empty: false,
    scoreValues: [],
    fieldValues: [...c.fieldValues.values()].map((fv) => fv.id),
    links: {
      contactLists: `${api}/contacts/${c.id}/contactLists`,
      fieldValues: `${api}/contacts/${c.id}/fieldValues`,
      contactTags: `${api}/contacts/${c.id}/contactTags`,
    },
    id: c.id,
    organization: null,
  };
}

export function renderFieldValues(c: ContactRecord, api: string): Array<Record<string, unknown>> {
  return [...c.fieldValues].map(([field, fv]) => ({
    contact: c.id,
    field,
    value: fv.value,
    cdate: fv.cdate,
    udate: fv.udate,
    created_by: null,
    updated_by: null,
    links: { owner: `${api}/fieldValues/${fv.id}/owner`, field: `${api}/fieldValues/${fv.id}/field` },
    id: fv.id,
    owner: c.id,
  }));
}

/** POST /contactLists answers status as an integer, GET /contacts/{id}/contactLists as a string (SPEC examples). */
export function renderMembership(
  m: Membership,
  c: ContactRecord,
  api: string,
  statusAs: 'number' | 'string',
): Record<string, unknown> {
  return {
    contact: m.contactId,
    list: m.listId,
    form: null,
    seriesid: '0',
    sdate: m.sdate,
    udate: m.udate,
    status: statusAs === 'number' ? m.status : String(m.status),
    responder: '1',
    sync: '0',
    unsubreason: null,
    campaign: null,
    message: null,
    first_name: c.firstName,
    last_name: c.lastName,
    ip4Sub: '0',
    sourceid: m.sourceid,
    autosyncLog: null,
    ip4_last: '0',
    ip4Unsub: '0',
    created_timestamp: utcTimestamp(m.sdate),
    updated_timestamp: utcTimestamp(m.udate),
    created_by: null,
    updated_by: null,
    unsubscribeAutomation: null,
    links: { automation: '', list: `${api}/contactLists/${m.id}/list`, contact: `${api}/contactLists/${m.id}/contact` },
    id: m.id,
    automation: null,
  };
}

export function renderList(l: ListRecord, api: string): Record<string, unknown> {
  return {
    stringid: slug(l.name),
    userid: '1',
    name: l.name,
    cdate: l.cdate,
    p_use_tracking: '1',
    private: '0',
    optinoptout: '1',
    sender_url: null,
    sender_reminder: null,
    fulladdress: null,
    deletestamp: null,
    udate: l.cdate,
    links: { contactGoalLists: `${api}/lists/${l.id}/contactGoalLists`, user: `${api}/lists/${l.id}/user` },
    id: l.id,
    user: '1',
  };
}

export function renderField(f: FieldRecord, api: string, ordernum: number): Record<string, unknown> {
  return {
    title: f.title,
    descript: null,
    type: f.type,
    isrequired: '0',
    perstag: f.perstag,
    defval: null,
    show_in_list: '0',
    rows: '0',
    cols: '0',
    visible: '1',
    service: '',
    ordernum: String(ordernum),
    cdate: f.cdate,
    udate: f.cdate,
    options: [],
    relations: [],
    links: { options: `${api}/fields/${f.id}/options`, relations: `${api}/fields/${f.id}/relations` },
    id: f.id,
  };
}

export function renderTag(t: TagRecord, api: string): Record<string, unknown> {
  return {
    tagType: t.tagType,
    tag: t.tag,
    description: t.description,
    cdate: t.cdate,
    links: { contactGoalTags: `${api}/tags/${t.id}/contactGoalTags` },
    id: t.id,
  };
}

/** POST /contactTags (SPEC example) and GET /contacts/{id}/contactTags (not in the spec: the same resource). */
export function renderContactTag(ct: ContactTagRecord, api: string): Record<string, unknown> {
  return {
    contact: ct.contactId,
    tag: ct.tagId,
    cdate: ct.cdate,
    created_timestamp: utcTimestamp(ct.cdate),
    updated_timestamp: utcTimestamp(ct.cdate),
    created_by: null,
    updated_by: null,
    links: { tag: `${api}/contactTags/${ct.id}/tag`, contact: `${api}/contactTags/${ct.id}/contact` },
    id: ct.id,
  };
}
