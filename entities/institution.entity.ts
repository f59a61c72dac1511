import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export const INSTITUTION_METHODS = ['built-in', 'plug-in'] as const;
export type InstitutionMethod = (typeof INSTITUTION_METHODS)[number];

export const INSTITUTION_STATUSES = ['operational', 'degraded', 'unavailable'] as const;
export type InstitutionStatus = (typeof INSTITUTION_STATUSES)[number];

/**
 * How the user signs in: by giving credentials to the service, or by being sent to the bank's own page and back
 * (open banking's redirect, OAuth).
 */
export const SIGN_IN_METHODS = ['credentials', 'redirect'] as const;
export type SignInMethod = (typeof SIGN_IN_METHODS)[number];

/** Seed 000's metrics: the kinds of data a connection can extract. */
export const DATASETS = ['BANK_ACCOUNT', 'BANK_BALANCE', 'BANK_TRANSACTION', 'USER_INFO'] as const;
export type Dataset = (typeof DATASETS)[number];

export interface CredentialField {
  /** Key in `credentials` (e.g. `loginId`). */
  name: string;
  label: string;
  /** Masked in UIs; every credential is encrypted either way. */
  secret: boolean;
  required: boolean;
}

/** The data holder (bank or other provider). Shared by all apps, so it carries no app_id. */
@Entity('institutions')
@Check('ck_institutions_method', `"method" IN ('built-in', 'plug-in')`)
@Check('ck_institutions_status', `"status" IN ('operational', 'degraded', 'unavailable')`)
@Check('ck_institutions_sign_in', `"sign_in" IN ('credentials', 'redirect')`)
export class Institution {
  /** e.g. `AU00000`. */
  @PrimaryColumn({ type: 'varchar', length: 32, primaryKeyConstraintName: 'pk_institutions' })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  /** ISO 3166-1 alpha-2. */
  @Index('ix_institutions_country')
  @Column({ type: 'char', length: 2 })
  country: string;

  /** The provider implementation that serves it (seed 001's serviceProvider), e.g. `sandbox`. */
  @Column({ type: 'varchar', length: 64 })
  providerKey: string;

  @Column({ type: 'varchar', length: 16 })
  method: InstitutionMethod;

  /** For plug-in institutions: the provider service's base URL. */
  @Column({ type: 'varchar', length: 2048, nullable: true })
  providerUrl: string | null;

  /** A national bank code where there is one (finAPI's BLZ; `00000000` is its demo bank). */
  @Column({ type: 'varchar', length: 16, nullable: true })
  bankCode: string | null;

  @Column({ type: 'text', array: true })
  datasets: Dataset[];

  @Column({ type: 'jsonb', default: () => "'[]'" })
  credentialFields: CredentialField[];

  /** SIGN_IN_METHODS: what the hosted pages ask of the user (redirect institutions have no credential fields). */
  @Column({ type: 'varchar', length: 16, default: 'credentials' })
  signIn: SignInMethod;

  @Column({ type: 'integer', default: 60 })
  minRefreshIntervalMinutes: number;

  @Column({ type: 'varchar', length: 16, default: 'operational' })
  status: InstitutionStatus;

  /**
   * False: retired by an operator (CLI or INSTITUTIONS_FILE). It takes no new connections and is not listed; its
   * existing connections keep refreshing. (`status` is the bank's health, which comes and goes.)
   */
  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
