/*
 * dict_sql.c - (to be written)
 */
