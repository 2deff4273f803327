/*
 * dsn_report.c - (to be written)
 */
