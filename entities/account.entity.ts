import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  type Relation,
} from 'typeorm';
import { Connection } from './connection.entity.ts';

/** A bank account found through a connection. Money is numeric (exact), never float. */
@Entity('accounts')
@Index('uq_accounts_connection_provider_id', ['connectionId', 'providerAccountId'], { unique: true })
@Index('ix_accounts_app_connection', ['appId', 'connectionId'])
export class Account {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_accounts' })
  id: string;

  @Column({ type: 'uuid' })
  appId: string;

  @Column({ type: 'uuid' })
  connectionId: string;

  @ManyToOne(() => Connection, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'connection_id', foreignKeyConstraintName: 'fk_accounts_connection' })
  connection?: Relation<Connection>;

  /** The provider's id for the account: upserts key on it, so a refresh never duplicates an account. */
  @Column({ type: 'varchar', length: 255 })
  providerAccountId: string;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'varchar', length: 32 })
  type: string;

  @Column({ type: 'char', length: 3 })
  currency: string;

  @Column({ type: 'numeric', precision: 20, scale: 4 })
  balance: string;

  @Column({ type: 'numeric', precision: 20, scale: 4, nullable: true })
  availableBalance: string | null;

  /** When the provider last reported this account. */
  @Column({ type: 'timestamptz', precision: 3 })
  lastUpdatedAt: Date;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
