import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Institutions are data (issue 12): an operator can disable one, which then takes no new connections. */
export class InstitutionsEnabled1795293000000 implements MigrationInterface {
  name = 'InstitutionsEnabled1795293000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "institutions" ADD "enabled" boolean NOT NULL DEFAULT true`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "institutions" DROP COLUMN "enabled"`);
  }
}
