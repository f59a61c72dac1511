import {
  Check,
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
import { Account } from './account.entity.ts';

export const TRANSACTION_STATUSES = ['pending', 'posted'] as const;
export type TransactionStatus = (typeof TRANSACTION_STATUSES)[number];

/** A transaction on an account. A pending one that posts is updated in place (same provider id), never duplicated. */
@Entity('transactions')
@Check('ck_transactions_status', `"status" IN ('pending', 'posted')`)
@Index('uq_transactions_account_provider_id', ['accountId', 'providerTransactionId'], { unique: true })
@Index('ix_transactions_app_account_booked', ['appId', 'accountId', 'bookedAt', 'id'])
@Index('ix_transactions_app_connection_booked', ['appId', 'connectionId', 'bookedAt', 'id'])
export class Transaction {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_transactions' })
  id: string;

  @Column({ type: 'uuid' })
  appId: string;

  /** Denormalised from the account, so a connection's transactions list without a join. */
  @Column({ type: 'uuid' })
  connectionId: string;

  @Column({ type: 'uuid' })
  accountId: string;

  @ManyToOne(() => Account, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id', foreignKeyConstraintName: 'fk_transactions_account' })
  account?: Relation<Account>;

  @Column({ type: 'varchar', length: 255 })
  providerTransactionId: string;

  /** Exact decimal; negative for debits. */
  @Column({ type: 'numeric', precision: 20, scale: 4 })
  amount: string;

  @Column({ type: 'char', length: 3 })
  currency: string;

  @Column({ type: 'varchar', length: 1000 })
  description: string;

  @Column({ type: 'timestamptz', precision: 3 })
  bookedAt: Date;

  @Column({ type: 'varchar', length: 16 })
  status: TransactionStatus;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
