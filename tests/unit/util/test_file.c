/*
 * test_file.c - (to be written)
 */
int main(void) { return 0; }
