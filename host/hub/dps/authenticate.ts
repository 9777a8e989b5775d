// Who a registering device's CONNECT says it is, and whether it proves it, as DPS decides: client id = registration
// id, username `{idScope}/registrations/{registrationId}/api-version=…`, then a SAS token (`skn=registration`,
// resource `{idScope}/registrations/{registrationId}`) signed with the individual enrollment's key or with the key
// derived from a group's, or a TLS client certificate whose thumbprint an X.509 enrollment names.
// A registration no enrollment knows is admitted, as DPS does, and answered 401 when it asks to register; a known
// enrollment with the wrong credential is refused at CONNECT (CONNACK 5).
import type { PeerCertificate } from 'node:tls';
import { parseSasToken, signedWithOneOf, normaliseResource } from '../auth/sas.js';
import { normalizeThumbprint } from '../state/registry.js';
import { deriveDeviceKey, type EnrollmentGroup, type EnrollmentStore, type IndividualEnrollment } from './enrollments.js';
import { isRegistrationId, parseDpsUsername } from './topics.js';

export interface RegistrationClaim {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  idScope: string;
  enrollments: EnrollmentStore;
  peerCertificate: () => PeerCertificate | undefined;
  nowMs?: number;
}

/** How the device proved itself: which enrollment, and the key or thumbprint it used (the device gets the same). */
export type Attested =
  | { kind: 'individual'; enrollment: IndividualEnrollment; symmetricKey?: { primaryKey: string; secondaryKey: string }; thumbprint?: string }
  | { kind: 'group'; group: EnrollmentGroup; symmetricKey: { primaryKey: string; secondaryKey: string } }
  /** No enrollment knows this registration (or none whose key signed the token): every request is answered 401. */
  | { kind: 'unknown'; reason: string };

export type RegistrationVerdict =
  | { ok: true; registrationId: string; attested: Attested; expiresAt: number }
  | { ok: false; returnCode: 2 | 4 | 5; reason: string };

const refused = (returnCode: 2 | 4 | 5, reason: string): RegistrationVerdict => ({ ok: false, returnCode, reason });

export function authenticateRegistration(o: RegistrationClaim): RegistrationVerdict {
  const now = o.nowMs ?? Date.now();
  const registrationId = o.clientId;
  if (!isRegistrationId(registrationId)) return refused(2, 'the client id must be the registration id');
  if (o.username === undefined) return refused(4, 'no username');
  const u = parseDpsUsername(o.username);
  if (!u) return refused(4, `malformed username '${o.username.slice(0, 300)}' (want {idScope}/registrations/{registrationId}/api-version=…)`);
  if (u.idScope.toLowerCase() !== o.idScope.toLowerCase()) return refused(5, `id scope '${u.idScope}' is not this provisioning service's (${o.idScope})`);
  if (u.registrationId !== registrationId) return refused(4, `username names '${u.registrationId}' but the client id is '${registrationId}'`);
  const individual = o.enrollments.getEnrollment(registrationId);
  const cert = o.peerCertificate();
  const hasPassword = !!o.password && o.password.length > 0;

  if (!hasPassword || (individual?.attestation.type === 'x509' && cert?.fingerprint)) {
    // X.509: the certificate presented in the TLS handshake (a password beside it is ignored, as for IoT Hub)
    if (!cert || !cert.fingerprint) return refused(4, 'no password (SAS token) and no client certificate');
    const presented = [normalizeThumbprint(cert.fingerprint), normalizeThumbprint(cert.fingerprint256 ?? '')];
    const validFrom = Date.parse(cert.valid_from), validTo = Date.parse(cert.valid_to);
    if (!(validFrom <= now)) return refused(5, `the client certificate is not valid before ${cert.valid_from}`);
    if (!(now < validTo)) return refused(5, `the client certificate expired ${cert.valid_to}`);
    const expiresAt = Math.floor(validTo / 1000);
    if (!individual) return { ok: true, registrationId, expiresAt, attested: { kind: 'unknown', reason: `no enrollment for registration '${registrationId}'` } };
    if (individual.attestation.type !== 'x509') return refused(5, `enrollment '${individual.registrationId}' attests with a symmetric key, not a certificate`);
    const allowed = [individual.attestation.primaryThumbprint, individual.attestation.secondaryThumbprint].filter((t): t is string => !!t);
    const match = presented.find((t) => allowed.includes(t));
    if (!match) return refused(5, `client certificate ${presented[0]} is not the one enrollment '${individual.registrationId}' names`);
    return { ok: true, registrationId, expiresAt, attested: { kind: 'individual', enrollment: individual, thumbprint: match } };
  }

  const t = parseSasToken(o.password!.toString('utf8'));
  if (typeof t === 'string') return refused(4, t);
  if (t.skn !== 'registration') return refused(5, `the SAS token's skn must be 'registration'${t.skn ? `, not '${t.skn}'` : ''}`);
  const resource = `${o.idScope}/registrations/${registrationId}`;
  if (normaliseResource(t.sr).toLowerCase() !== resource.toLowerCase()) return refused(5, `SAS resource '${t.sr}' is not '${resource}'`);
  const nowSeconds = Math.floor(now / 1000);
  if (t.se <= nowSeconds) return refused(5, `SAS token expired ${nowSeconds - t.se} s ago`);
  if (individual) {
    if (individual.attestation.type !== 'symmetricKey') return refused(5, `enrollment '${individual.registrationId}' attests with an X.509 certificate, not a key`);
    const { primaryKey, secondaryKey } = individual.attestation;
    if (!signedWithOneOf(t, [primaryKey, secondaryKey])) return refused(5, `SAS signature does not match either key of enrollment '${individual.registrationId}'`);
    return { ok: true, registrationId, expiresAt: t.se, attested: { kind: 'individual', enrollment: individual, symmetricKey: { primaryKey, secondaryKey } } };
  }
  for (const group of o.enrollments.listGroups()) {
    const primaryKey = deriveDeviceKey(group.attestation.primaryKey, registrationId);
    const secondaryKey = deriveDeviceKey(group.attestation.secondaryKey, registrationId);
    if (signedWithOneOf(t, [primaryKey, secondaryKey])) {
      return { ok: true, registrationId, expiresAt: t.se, attested: { kind: 'group', group, symmetricKey: { primaryKey, secondaryKey } } };
    }
  }
  return { ok: true, registrationId, expiresAt: t.se, attested: { kind: 'unknown', reason: `no enrollment for registration '${registrationId}', and no enrollment group's key signed its token` } };
}
