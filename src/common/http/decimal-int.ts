import { Transform } from 'class-transformer';

/**
 * A query parameter that is a whole number written in decimal digits ("20"), turned into
 * that number; anything else is left as it is, for @IsInt() to refuse. `Number()` (what
 * @Type(() => Number) does) also takes "0x10", "1e2", " 5 " and "100.0".
 */
export function DecimalInt(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value));
}
