/*
 * dict_proxy.c - (to be written)
 */
