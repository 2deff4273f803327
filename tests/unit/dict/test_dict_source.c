/*
 * test_dict_source.c - (to be written)
 */
int main(void) { return 0; }
