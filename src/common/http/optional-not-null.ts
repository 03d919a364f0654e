import { ValidateIf } from 'class-validator';

/**
 * Like @IsOptional(), but only for a field left out: a field sent as `null` is still
 * validated (and so refused by @IsString() and the like). For PATCH fields where null
 * means nothing: @IsOptional() let `{"url": null}` through as "not given", and the
 * request answered 200 having changed nothing.
 */
export function OptionalNotNull(): PropertyDecorator {
  return ValidateIf((_object: unknown, value: unknown) => value !== undefined);
}
