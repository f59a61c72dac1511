import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A client app of the service. Owns every tenant row through `app_id`. */
@Entity('applications')
export class Application {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_applications' })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  /** sha256 of the API key (keys are 32 random bytes, so a fast hash is enough). The key itself is never stored. */
  @Index('uq_applications_api_key_hash', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  apiKeyHash: string;

  /** The first characters of the key, so an operator can tell keys apart in listings. */
  @Column({ type: 'varchar', length: 16 })
  apiKeyPrefix: string;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  keyRotatedAt: Date | null;

  /**
   * Where Hosted Connect may send the app's users back (matched exactly, as OAuth requires); their origins are the
   * only ones that may frame the hosted pages or receive their postMessage.
   */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  redirectUris: string[];
}
